"""Fig. 4 perturbations: seeded derangements and the perturbed batches the rge objective trains on."""

from __future__ import annotations

import random
from collections import Counter

import pytest

import rge.train.objectives as objectives
from rge.data.records import Item, TrainPair
from rge.train.objectives import RgeObjective, derangement, make_objective, perturb_pairs


def _pairs(n: int, subset: str = "s", targets: list[str] | None = None) -> list[TrainPair]:
    return [
        TrainPair(key=f"{subset}/{i}", subset=subset, query=Item(f"query {i}", f"img{i}.png"),
                  pos=Item(targets[i] if targets else f"target {i}"), negs=(Item(f"neg {i}"),))
        for i in range(n)
    ]  # fmt: skip


@pytest.mark.parametrize("n", [2, 3, 5, 16, 64])
def test_derangement_is_a_permutation_without_fixed_points(n):
    for seed in range(20):
        sigma = derangement(list(range(n)), random.Random(seed))
        assert sorted(sigma) == list(range(n))
        assert all(sigma[i] != i for i in range(n))


def test_derangement_is_seeded():
    labels = list(range(12))
    assert derangement(labels, random.Random(3)) == derangement(labels, random.Random(3))
    draws = {tuple(derangement(labels, random.Random(s))) for s in range(10)}
    assert len(draws) > 5  # different seeds, different permutations


def test_derangement_never_maps_onto_an_equal_label_when_possible():
    # half the rows share one label: feasible only by always swapping across the two groups,
    # which random draws almost never hit, so the constructive fallback is exercised
    labels = ["a"] * 20 + ["b"] * 7 + ["c"] * 13
    for seed in range(10):
        sigma = derangement(labels, random.Random(seed))
        assert sorted(sigma) == list(range(40))
        assert all(labels[j] != labels[i] for i, j in enumerate(sigma))


def test_derangement_of_a_crowded_batch_still_moves_every_row():
    labels = ["a", "a", "a", "b"]  # 'a' holds 3 of 4 rows: equal labels cannot all be avoided
    sigma = derangement(labels, random.Random(0))
    assert sorted(sigma) == [0, 1, 2, 3] and all(sigma[i] != i for i in range(4))


def test_derangement_needs_two_rows():
    with pytest.raises(ValueError, match="at least 2 rows"):
        derangement(["a"], random.Random(0))


@pytest.mark.parametrize(("kind", "side", "kept"), [("wrong_target", "pos", "query"),
                                                   ("wrong_query", "query", "pos")])  # fmt: skip
def test_perturb_pairs_replaces_one_side_with_another_rows(kind, side, kept):
    pairs = _pairs(8)
    out = perturb_pairs(pairs, kind, seed=0)
    assert [p.key for p in out] == [p.key for p in pairs]  # same keys: same oracle rationales
    assert [getattr(p, kept) for p in out] == [getattr(p, kept) for p in pairs]
    assert [p.negs for p in out] == [p.negs for p in pairs]
    moved = [getattr(p, side) for p in out]
    assert Counter(moved) == Counter(getattr(p, side) for p in pairs)  # a permutation
    assert all(m != getattr(p, side) for m, p in zip(moved, pairs, strict=True))
    assert perturb_pairs(pairs, kind, seed=0) == out
    assert any(perturb_pairs(pairs, kind, seed=s) != out for s in range(1, 5))


def test_perturb_pairs_avoids_equal_targets():
    targets = ["cat", "cat", "dog", "dog", "cow", "cow"]
    for seed in range(10):
        out = perturb_pairs(_pairs(6, targets=targets), "wrong_target", seed=seed)
        assert all(p.pos.text != t for p, t in zip(out, targets, strict=True))


def test_perturb_none_and_unknown():
    pairs = _pairs(4)
    assert perturb_pairs(pairs, "none", seed=0) == pairs
    with pytest.raises(ValueError, match="unknown perturbation"):
        perturb_pairs(pairs, "shuffle", seed=0)
    with pytest.raises(ValueError, match="unknown perturb"):
        RgeObjective(pair="q_oracle", perturb="shuffle")


def test_make_objective_reads_the_perturbation_from_the_config():
    obj = make_objective("rge", {"pair": "q_oracle", "perturb": "wrong_query", "perturb_seed": 7})
    assert (obj.perturb, obj.perturb_seed) == ("wrong_query", 7)
    assert make_objective("rge", {}).perturb == "none"


class _Processor:
    """Just enough of a processor for ``_supervised_tokens``: one token per word."""

    class tokenizer:  # noqa: N801 - mimics the attribute
        def __new__(cls, texts, add_special_tokens=False):
            return {"input_ids": [t.split() for t in texts]}


@pytest.mark.parametrize("kind", ["none", "wrong_target", "wrong_query"])
def test_rge_objective_encodes_the_perturbed_batch_with_each_rows_own_rationale(kind, monkeypatch):
    pairs = _pairs(6)
    rationales = {p.key: f"rationale of {p.key}" for p in pairs}
    seen = {}

    def fake_encode(model, processor, chunk, plan, with_lm, lm_scale):
        seen["pairs"], seen["oracle"] = list(chunk.pairs), list(chunk.oracle)
        raise StopIteration  # the batch is what this test is about, not the forward

    monkeypatch.setattr(objectives, "_encode", fake_encode)
    obj = RgeObjective(pair="q_oracle", rationales=rationales, perturb=kind, perturb_seed=1)
    with pytest.raises(StopIteration):
        obj(None, _Processor, pairs)
    assert seen["pairs"] == perturb_pairs(pairs, kind, seed=1)
    assert seen["oracle"] == [rationales[p.key] for p in pairs]  # r_o of the original row
    if kind == "wrong_query":
        assert all(a.query != b.query for a, b in zip(seen["pairs"], pairs, strict=True))
    if kind == "wrong_target":
        assert all(a.pos != b.pos for a, b in zip(seen["pairs"], pairs, strict=True))
