"""Metrics against hand-computed numbers, the tie policy, and the paper's aggregation."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from rge.evaluate.metrics import (
    aggregate,
    pessimistic_top1,
    precision_at_1,
    recall_i2t,
    recall_t2i,
    release_precision_at_1,
    release_top1,
)

PAPER = Path(__file__).resolve().parents[2] / "config" / "paper_numbers"


def test_top1_ground_truth_strictly_best():
    assert pessimistic_top1(np.array([0.9, 0.1, 0.5])) == 0


def test_top1_other_candidate_best():
    assert pessimistic_top1(np.array([0.2, 0.1, 0.5, 0.3])) == 2


def test_top1_tie_with_truth_is_a_miss():
    # np.argmax would say 0 (a hit); ties must go against the ground truth
    assert pessimistic_top1(np.array([0.7, 0.2, 0.7, 0.7])) == 2


def test_top1_single_candidate_is_a_hit():
    assert pessimistic_top1(np.array([0.3])) == 0


def test_precision_at_1_hand_computed():
    rows = [np.array([0.9, 0.1]), np.array([0.1, 0.9, 0.0]), np.array([0.5, 0.5]), np.array([1.0])]
    acc, correct, n, preds = precision_at_1(rows)
    assert (acc, correct, n, preds) == (0.5, 2, 4, [0, 1, 1, 0])


def test_constant_scores_score_zero():
    rows = [np.full(c, 0.42) for c in (2, 5, 1000)]
    acc, correct, _, preds = precision_at_1(rows)
    assert acc == 0.0 and correct == 0 and all(p != 0 for p in preds)


def test_release_top1_argmax_and_identical_items():
    no_copy = [True, False, False, False]
    assert release_top1(np.array([0.7, 0.2, 0.7, 0.7]), no_copy) == (0, True)  # argmax: first max
    assert release_top1(np.array([0.2, 0.9, 0.1, 0.0]), no_copy) == (1, False)
    # a copy of the truth (index 2) on top counts as the truth
    assert release_top1(np.array([0.5, 0.1, 0.6, 0.2]), [True, False, True, False]) == (2, True)
    with pytest.raises(ValueError, match="same_as_gt"):
        release_top1(np.array([0.5, 0.1]), [False, False])


def test_release_precision_at_1_hand_computed():
    rows = [np.array([0.9, 0.1]), np.array([0.1, 0.9, 0.0]), np.array([0.5, 0.5]), np.array([1.0])]
    same = [[True, False], [True, False, False], [True, False], [True]]
    assert release_precision_at_1(rows, same) == (0.75, 3, 4, [0, 1, 0, 0])
    constant = [np.full(c, 0.42) for c in (2, 5, 1000)]
    assert (
        release_precision_at_1(constant, [[True] + [False] * (c - 1) for c in (2, 5, 1000)])[0]
        == 1.0
    )


@pytest.mark.parametrize("bad", [np.array([]), np.array([0.1, np.nan]), np.zeros((2, 2))])
def test_top1_rejects_bad_scores(bad):
    with pytest.raises(ValueError):
        pessimistic_top1(bad)


def test_precision_at_1_needs_rows():
    with pytest.raises(ValueError):
        precision_at_1([])


# 3 images, 2 captions each (caption j -> image j // 2); rows = captions, columns = images
SIM = np.array(
    [
        [0.9, 0.1, 0.0],  # c0 (img0): img0 rank 0
        [0.2, 0.8, 0.1],  # c1 (img0): img0 rank 1
        [0.1, 0.3, 0.7],  # c2 (img1): img1 rank 1
        [0.0, 0.6, 0.5],  # c3 (img1): img1 rank 0
        [0.5, 0.4, 0.3],  # c4 (img2): img2 rank 2
        [0.1, 0.2, 0.05],  # c5 (img2): img2 rank 2
    ]
)
GT = [0, 0, 1, 1, 2, 2]


def test_recall_t2i_hand_computed():
    # own-image ranks: 0, 1, 1, 0, 2, 2
    assert recall_t2i(SIM, GT, (1, 2, 3)) == {1: 2 / 6, 2: 4 / 6, 3: 1.0}


def test_recall_i2t_hand_computed():
    # rank of an image's best own caption among the OTHER images' captions:
    # img0 column: own 0.9, 0.2; others 0.1 0.0 0.5 0.1 -> none >= 0.9 -> 0
    # img1 column: own 0.3, 0.6; others 0.1 0.8 0.4 0.2 -> 0.8 >= 0.6 -> 1
    # img2 column: own 0.3, 0.05; others 0.0 0.1 0.7 0.5 -> 0.7, 0.5 -> 2
    assert recall_i2t(SIM, GT, (1, 2, 3)) == {1: 1 / 3, 2: 2 / 3, 3: 1.0}


def test_recall_ties_count_against_truth():
    sim = np.ones((4, 2))
    gt = [0, 0, 1, 1]
    assert recall_t2i(sim, gt, (1, 2)) == {1: 0.0, 2: 1.0}
    # both of the other image's captions tie with the own ones and count above them -> rank 2;
    # the image's second own caption does not count against it
    assert recall_i2t(sim, gt, (1, 2, 3)) == {1: 0.0, 2: 0.0, 3: 1.0}


def test_recall_rejects_bad_input():
    with pytest.raises(ValueError, match="outside"):
        recall_t2i(np.ones((2, 2)), [0, 2], (1,))
    with pytest.raises(ValueError, match="no caption"):
        recall_i2t(np.ones((2, 3)), [0, 1], (1,))


def test_aggregate_hand_computed():
    scores = {"a": 0.2, "b": 0.4, "c": 0.9, "d": 0.5}
    meta = {"a": "classification", "b": "classification", "c": "vqa", "d": "grounding"}
    split = {"a": "IND", "b": "OOD", "c": "IND", "d": "IND"}
    agg = aggregate(scores, meta, split)
    assert agg["meta_task"] == pytest.approx({"classification": 0.3, "vqa": 0.9, "grounding": 0.5})
    assert agg["IND"] == pytest.approx(1.6 / 3)
    assert agg["OOD"] == pytest.approx(0.4)
    # overall is the mean over tasks, not over meta-task means (0.5667)
    assert agg["overall"] == pytest.approx(0.5)
    assert agg["num_tasks"] == 4


def test_aggregate_missing_group_and_bad_labels():
    agg = aggregate({"a": 1.0}, {"a": "vqa"}, {"a": "IND"})
    assert agg["OOD"] is None and "retrieval" not in agg["meta_task"]
    with pytest.raises(ValueError, match="'a'"):
        aggregate({"a": 1.0}, {"a": "VQA"}, {"a": "IND"})
    with pytest.raises(ValueError, match="split"):
        aggregate({"a": 1.0}, {"a": "vqa"}, {})


def _read(name: str) -> list[dict]:
    with open(PAPER / name, newline="") as fh:
        return list(csv.DictReader(fh))


PAPER_META = {
    "Classification": "classification",
    "VQA": "vqa",
    "Retrieval": "retrieval",
    "Visual Grounding": "grounding",
}


def test_aggregate_reproduces_paper_table15_summary():
    per = _read("table15_mmeb_per_dataset.csv")
    summary = {r["row"]: r for r in _read("table15_mmeb_summary.csv")}
    assert len(per) == 36
    meta = {r["dataset"]: PAPER_META[r["meta_task"]] for r in per}
    split = {r["dataset"]: r["split"] for r in per}
    models = [c for c in per[0] if c not in ("meta_task", "dataset", "split")]
    assert "RGE (Qwen2.5-VL-3B)" in models
    for model in models:
        agg = aggregate({r["dataset"]: float(r[model]) for r in per}, meta, split)
        ours = {
            "All Classification": agg["meta_task"]["classification"],
            "All VQA": agg["meta_task"]["vqa"],
            "All Retrieval": agg["meta_task"]["retrieval"],
            "All Visual Grounding": agg["meta_task"]["grounding"],
            "Avg. IND Scores": agg["IND"],
            "Avg. OOD Scores": agg["OOD"],
            "Avg. Scores": agg["overall"],
        }
        for row, value in ours.items():
            # the paper rounds to one decimal: |mean - printed| <= 0.05 (+ float slack)
            assert abs(value - float(summary[row][model])) <= 0.0501, (model, row, value)


def test_recall_identical_captions_and_images_are_one_item():
    # 2 images x 2 captions; caption 2 (image 1) has the same text as caption 0 (image 0)
    sim = np.array([[0.2, 0.9], [0.1, 0.8], [0.2, 0.9], [0.3, 0.1]])
    gt = [0, 0, 1, 1]
    # by position: only caption 2 has its own image on top
    assert recall_t2i(sim, gt, (1,)) == {1: 1 / 4}
    # with keys: caption 0 == caption 2, so image 1 is own for caption 0 (and image 0 for 2)
    keys = ["a dog", "a cat", "a dog", "a bird"]
    assert recall_t2i(sim, gt, (1,), caption_keys=keys) == {1: 2 / 4}
    # i2t by position: image 0 (own best 0.2) loses to captions 2 and 3, image 1 (0.9) ties
    # with caption 0; with keys caption 0 is own for image 1 -> a hit
    assert recall_i2t(sim, gt, (1,)) == {1: 0.0}
    assert recall_i2t(sim, gt, (1,), caption_keys=keys) == {1: 1 / 2}
    sim2 = np.array([[0.5, 0.1], [0.1, 0.2], [0.5, 0.9], [0.3, 0.1]])
    # image 0: own caption 0 ties with caption 2 (another image's) -> strict miss; same text
    # "a dog" is own for both images -> a hit
    assert recall_i2t(sim2, gt, (1,)) == {1: 1 / 2}
    assert recall_i2t(sim2, gt, (1,), caption_keys=keys) == {1: 1.0}
    # the same image file twice: one item
    sim3 = np.array([[0.5, 0.5], [0.4, 0.4]])
    assert recall_t2i(sim3, [0, 1], (1,)) == {1: 0.0}
    assert recall_t2i(sim3, [0, 1], (1,), image_keys=["x.png", "x.png"]) == {1: 1.0}
    with pytest.raises(ValueError, match="caption_keys"):
        recall_t2i(sim, gt, (1,), caption_keys=keys[:3])
