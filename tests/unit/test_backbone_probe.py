"""Perception probe: scoring against scene attributes, and greedy generation that stops at <emb>."""

from __future__ import annotations

import random

import pytest
import torch

from rge.backbone import probe
from rge.data.records import Item
from rge.data.scenes import ATTRIBUTES, describe_scene, sample_scene
from rge.model.generation import GenerationSettings
from tests.fixtures.tiny_model import scene_items, small_model


def _fake_generate(transform):
    """A generate() that writes ``transform(scene)`` for the scenes the probe draws."""
    state = {}

    def fake(model, processor, items, *, max_new_tokens, load_image, generation=None):
        state.setdefault("generation", []).append(generation)
        scenes = state["scenes"][: len(items)]
        del state["scenes"][: len(items)]
        return [transform(s) for s in scenes]

    return fake, state


def _probe_scenes(n, seed):
    rng = random.Random(seed)
    return [sample_scene(rng) for _ in range(n)]  # probe draws batches from one seeded stream


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        (describe_scene, dict.fromkeys(ATTRIBUTES, 1.0)),
        (lambda s: "garbage", dict.fromkeys(ATTRIBUTES, 0.0)),
        (
            # left and right swapped: colours always wrong (two colours differ), shapes right
            # exactly where both shapes agree
            lambda s: describe_scene({**s, "left": s["right"], "right": s["left"]}),
            None,
        ),
    ],
)
def test_probe_scoring(monkeypatch, transform, expected):
    n, seed = 10, 7
    fake, state = _fake_generate(transform)
    state["scenes"] = _probe_scenes(n, seed)
    same_shape = sum(s["left"]["shape"] == s["right"]["shape"] for s in state["scenes"]) / n
    monkeypatch.setattr(probe, "generate", fake)
    out = probe.perception_probe(
        torch.nn.Identity(), None, n_scenes=n, seed=seed, prompt="p", batch_size=4, n_examples=3
    )
    if expected is None:
        expected = {
            "left_color": 0.0,
            "right_color": 0.0,
            "left_shape": same_shape,
            "right_shape": same_shape,
        }
    assert out["accuracy"] == pytest.approx(expected)
    assert out["n_scenes"] == n and len(out["examples"]) == 3
    assert set(out["examples"][0]["truth"]) == set(ATTRIBUTES)


def test_generate_stops_and_drops_special_tokens():
    model, proc = small_model()
    items, _, load = scene_items(3)
    texts = probe.generate(
        model, proc, items + [Item("text only")], max_new_tokens=5, load_image=load
    )
    assert len(texts) == 4
    for t in texts:
        assert "<emb>" not in t and "<|image_pad|>" not in t
    # greedy and left-padded: a row's text does not depend on the rest of the batch
    alone = probe.generate(model, proc, items[1:2], max_new_tokens=5, load_image=load)
    assert alone == texts[1:2]


def test_probe_hands_the_generation_settings_to_every_batch(monkeypatch):
    fake, state = _fake_generate(describe_scene)
    state["scenes"] = _probe_scenes(10, 7)
    monkeypatch.setattr(probe, "generate", fake)
    settings = GenerationSettings(engine="static", cap="last_token")
    probe.perception_probe(torch.nn.Identity(), None, n_scenes=10, seed=7, prompt="p",
                           batch_size=4, generation=settings)  # fmt: skip
    assert state["generation"] == [settings] * 3  # batches of 4, 4, 2


def test_generate_writes_the_same_text_under_either_engine():
    model, proc = small_model()
    items, _, load = scene_items(3)
    items = items + [Item("text only")]
    texts = {
        engine: probe.generate(
            model,
            proc,
            items,
            max_new_tokens=5,
            load_image=load,
            generation=GenerationSettings(engine=engine),
        )  # fmt: skip
        for engine in ("dynamic", "static")
    }
    assert (
        texts["static"]
        == texts["dynamic"]
        == probe.generate(model, proc, items, max_new_tokens=5, load_image=load)
    )
