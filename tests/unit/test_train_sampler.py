"""Task-homogeneous batching and the learning-rate schedule."""

from __future__ import annotations

import math

import pytest

from rge.train.sampler import TaskBatchSampler, lr_factor

SUBSETS = ["a"] * 7 + ["b"] * 4 + ["c"] * 1


def test_batches_are_homogeneous_full_and_cover_each_subset_once():
    s = TaskBatchSampler(SUBSETS, batch_size=2, seed=3)
    batches = s.epoch(0)
    # a: 7 rows -> 3 batches (one row dropped); b: 2 batches; c: smaller than a batch -> none
    assert len(s) == len(batches) == 5
    for b in batches:
        assert len(b) == 2 and len({SUBSETS[i] for i in b}) == 1
    used = [i for b in batches for i in b]
    assert len(used) == len(set(used)) == 10
    assert {SUBSETS[i] for i in used} == {"a", "b"}


def test_seeded_order_and_epochs_differ():
    a = TaskBatchSampler(SUBSETS, batch_size=2, seed=3)
    b = TaskBatchSampler(SUBSETS, batch_size=2, seed=3)
    assert a.epoch(0) == b.epoch(0)
    assert a.epoch(0) != a.epoch(1)
    assert a.epoch(0) != TaskBatchSampler(SUBSETS, batch_size=2, seed=4).epoch(0)
    # subsets are interleaved, not one block after another, in some epoch of the first few
    runs = [[SUBSETS[b[0]] for b in a.epoch(e)] for e in range(5)]
    assert any(r not in (["a"] * 3 + ["b"] * 2, ["b"] * 2 + ["a"] * 3) for r in runs)


def test_iterate_resumes_at_a_position():
    s = TaskBatchSampler(SUBSETS, batch_size=2, seed=0)
    it = s.iterate()
    first = [next(it) for _ in range(8)]  # crosses into epoch 1
    assert first[4][1] == {"epoch": 0, "pos": 5} and first[5][1] == {"epoch": 1, "pos": 1}
    resumed = s.iterate(**first[2][1])
    assert [next(resumed) for _ in range(5)] == first[3:8]


def test_no_full_batch_raises():
    with pytest.raises(ValueError, match="no full batch"):
        TaskBatchSampler(["x", "y"], batch_size=2, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        TaskBatchSampler(["x"], batch_size=0, seed=0)


def test_lr_factor_warmup_then_cosine_and_linear():
    # warm-up 4 of 10 steps: 1/4, 2/4, 3/4, 4/4, then decay over steps 4..9
    assert [lr_factor(s, warmup=4, total=10, kind="cosine") for s in range(4)] == [
        0.25,
        0.5,
        0.75,
        1,
    ]
    assert lr_factor(4, warmup=4, total=10, kind="cosine") == 1.0
    # step 6: progress (6-4)/(10-4-1) = 0.4 -> 0.5 (1 + cos(0.4 pi))
    assert lr_factor(6, warmup=4, total=10, kind="cosine") == pytest.approx(
        0.5 * (1 + math.cos(0.4 * math.pi))
    )
    assert lr_factor(9, warmup=4, total=10, kind="cosine", min_ratio=0.1) == pytest.approx(0.1)
    assert lr_factor(6, warmup=4, total=10, kind="linear") == pytest.approx(0.6)
    assert lr_factor(9, warmup=0, total=10, kind="constant") == 1.0
    with pytest.raises(ValueError, match="schedule"):
        lr_factor(5, warmup=0, total=10, kind="step")
