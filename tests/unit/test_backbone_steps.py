"""Backbone pretraining steps on a very small model: schedule, warm-up, captioning."""

from __future__ import annotations

import math
import random

import pytest
import torch

from rge.backbone.caption import caption_pretrain, param_groups
from rge.backbone.common import scene_images, warmup_cosine
from rge.backbone.warmup import side_means, vision_warmup
from tests.fixtures.tiny_model import small_model


def test_warmup_cosine_shape():
    f = [warmup_cosine(s, total=10, warmup=2, min_ratio=0.1) for s in range(12)]
    assert f[0] == pytest.approx(0.5) and f[1] == pytest.approx(1.0)
    assert f[2] == pytest.approx(1.0)  # cosine starts at its top
    assert f[6] == pytest.approx(0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * 0.5)))
    assert f[10] == pytest.approx(0.1) and f[11] == pytest.approx(0.1)
    assert all(a >= b for a, b in zip(f[1:], f[2:], strict=False))


def test_scene_images_are_seeded():
    a, ia = scene_images(random.Random(4), 3, 112)
    b, ib = scene_images(random.Random(4), 3, 112)
    assert a == b and sorted(ia) == ["s0", "s1", "s2"]
    assert ia["s1"].tobytes() == ib["s1"].tobytes() and ia["s1"].size == (112, 112)


def test_side_means_shapes():
    model, proc = small_model()
    _, imgs = scene_images(random.Random(0), 2, 112)
    left, right = side_means(model, proc, list(imgs.values()))
    assert left.shape == right.shape == (2, model.config.text_config.hidden_size)
    assert not torch.allclose(left, right)


def test_vision_warmup_trains_only_the_vision_tower_and_is_seeded():
    model, proc = small_model()
    lm_before = {k: v.clone() for k, v in model.model.language_model.state_dict().items()}
    vis_before = {k: v.clone() for k, v in model.model.visual.state_dict().items()}
    stats = vision_warmup(model, proc, steps=3, lr=1e-2, batch_size=4, seed=0)
    assert stats["steps"] == 3 and math.isfinite(stats["final_loss"])
    lm_after, vis_after = model.model.language_model.state_dict(), model.model.visual.state_dict()
    assert all(torch.equal(lm_before[k], lm_after[k]) for k in lm_before)
    assert any(not torch.equal(vis_before[k], vis_after[k]) for k in vis_before)
    again, proc2 = small_model()
    assert (
        vision_warmup(again, proc2, steps=3, lr=1e-2, batch_size=4, seed=0)["final_loss"]
        == (stats["final_loss"])
    )


def test_param_groups_split_vision_from_rest():
    model, _ = small_model()
    groups = param_groups(model, 3e-3, 2e-3)
    n_vis = sum(p.numel() for p in model.model.visual.parameters())
    assert sum(p.numel() for p in groups[0]["params"]) == n_vis
    assert sum(p.numel() for g in groups for p in g["params"]) == sum(
        p.numel() for p in model.parameters()
    )
    assert [g["lr"] for g in groups] == [3e-3, 2e-3]


def test_captioning_lowers_the_lm_loss():
    model, proc = small_model()
    stats = caption_pretrain(
        model,
        proc,
        steps=30,
        lr_vision=3e-3,
        lr_lm=1e-2,
        batch_size=4,
        warmup_steps=3,
        min_lr_ratio=0.1,
        seed=0,
    )
    assert stats["final_loss_ema"] < 0.6 * stats["first_loss"]
    assert not model.training


def test_zero_steps_leave_the_model_untouched():
    model, proc = small_model()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert vision_warmup(model, proc, steps=0, lr=1e-2, batch_size=4, seed=0)["final_loss"] is None
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
