"""Checkpoints: round trip, atomic naming, pruning, and a bit-exact resume of the loop."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
import torch

from rge.train.checkpoint import (
    TrainState,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    save_checkpoint,
)
from rge.train.loop import LoopSettings, build_optimizer, train
from tests.fixtures.train_fakes import FakeEncoder, fake_objective, text_pairs


def _objects():
    model = FakeEncoder()
    opt, sched = build_optimizer(model, LoopSettings(batch_size=2, lr=1e-2, warmup_steps=2), 10)
    return model, opt, sched


def test_round_trip_restores_weights_optimizer_scheduler_rng(tmp_path):
    model, opt, sched = _objects()
    for _ in range(3):  # give AdamW some state and the schedule some steps
        opt.zero_grad()
        model([p.query for p in text_pairs(4)]).sum().backward()
        opt.step()
        sched.step()
    ckpt = save_checkpoint(
        tmp_path,
        model=model,
        optimizer=opt,
        scheduler=sched,
        state=TrainState(step=3, sampler={"epoch": 1, "pos": 2}, extra={"note": "x"}),
    )
    expect_rng = (random.random(), np.random.rand(), torch.rand(1).item())

    model2, opt2, sched2 = _objects()
    state = load_checkpoint(ckpt, model=model2, optimizer=opt2, scheduler=sched2)
    assert (random.random(), np.random.rand(), torch.rand(1).item()) == expect_rng
    assert state == TrainState(step=3, sampler={"epoch": 1, "pos": 2}, extra={"note": "x"})
    for a, b in zip(model.state_dict().values(), model2.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert sched2.get_last_lr() == sched.get_last_lr()
    s1, s2 = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert all(torch.equal(s1[k]["exp_avg_sq"], s2[k]["exp_avg_sq"]) for k in s1)


def test_pruning_and_half_written_folders_are_ignored(tmp_path):
    model, opt, sched = _objects()
    for step in (2, 4, 6):
        save_checkpoint(
            tmp_path,
            model=model,
            optimizer=opt,
            scheduler=sched,
            state=TrainState(step=step),
            keep=2,
        )
    (tmp_path / ".step-00000008.abc").mkdir()  # what a kill during atomic_dir leaves behind
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000004", "step-00000006"]
    assert latest_checkpoint(tmp_path).name == "step-00000006"
    assert latest_checkpoint(tmp_path / "nothing") is None


def test_incomplete_checkpoint_raises_naming_file(tmp_path):
    model, opt, sched = _objects()
    ckpt = save_checkpoint(
        tmp_path, model=model, optimizer=opt, scheduler=sched, state=TrainState(step=1)
    )
    (ckpt / "optimizer.pt").unlink()
    with pytest.raises(FileNotFoundError, match="optimizer.pt"):
        load_checkpoint(ckpt, model=model, optimizer=opt, scheduler=sched)


class _Killed(Exception):
    pass


def _killing(after: int):
    """The fake objective, but the process 'dies' on call number after + 1."""
    calls = {"n": 0}

    def objective(model, processor, pairs):
        calls["n"] += 1
        if calls["n"] > after:
            raise _Killed
        return fake_objective(model, processor, pairs)

    return objective


def test_killed_and_resumed_run_equals_uninterrupted_run(tmp_path):
    pairs = text_pairs(12)
    # 7 steps over 3 batches per epoch: the resume point (4) lies in the second epoch
    settings = LoopSettings(
        batch_size=2,
        max_steps=7,
        lr=1e-2,
        warmup_steps=2,
        checkpoint_every=2,
        seed=5,
        weight_decay=0.1,
    )
    full = FakeEncoder()
    stats_full = train(
        full, None, pairs, fake_objective, settings, work_dir=tmp_path / "a", progress=False
    )

    part = FakeEncoder()
    with pytest.raises(_Killed):
        train(part, None, pairs, _killing(5), settings, work_dir=tmp_path / "b", progress=False)
    assert latest_checkpoint(tmp_path / "b" / "checkpoints").name == "step-00000004"
    resumed = FakeEncoder()  # a fresh process: weights from the start, state from the checkpoint
    stats = train(
        resumed, None, pairs, fake_objective, settings, work_dir=tmp_path / "b", progress=False
    )

    assert stats["resumed_from_step"] == 4 and stats["steps"] == 7
    for a, b in zip(full.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert stats["final_loss"] == stats_full["final_loss"]
    rows_a = [json.loads(line) for line in (tmp_path / "a" / "log.jsonl").read_text().splitlines()]
    rows_b = [json.loads(line) for line in (tmp_path / "b" / "log.jsonl").read_text().splitlines()]
    # the step-5 row of the killed run is not there twice, and every step's numbers agree
    assert [r["step"] for r in rows_b] == list(range(1, 8))
    for a, b in zip(rows_a, rows_b, strict=True):
        assert (a["loss"], a["lr"], a["grad_norm"]) == (b["loss"], b["lr"], b["grad_norm"])


def test_resume_with_other_settings_is_refused(tmp_path):
    pairs = text_pairs(8)
    s = LoopSettings(batch_size=2, max_steps=2, checkpoint_every=1)
    train(FakeEncoder(), None, pairs, fake_objective, s, work_dir=tmp_path, progress=False)
    other = LoopSettings(batch_size=2, max_steps=2, checkpoint_every=1, lr=0.5)
    with pytest.raises(ValueError, match="other settings"):
        train(FakeEncoder(), None, pairs, fake_objective, other, work_dir=tmp_path, progress=False)
