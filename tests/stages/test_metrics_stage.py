"""metrics stage: a score summary's headline scores, in %, in one small file."""

from __future__ import annotations

import json

import pytest

from rge.io import write_json
from rge.stages import metrics


def test_headline_scores_in_percent(tmp_path):
    summary = tmp_path / "direct.json"
    write_json(summary, {
        "run": "rge", "mode": "direct", "overall": 0.2584, "IND": 0.3, "OOD": 0.125,
        "meta_task": {"classification": 0.5, "vqa": 0.0625, "retrieval": 0.33333, "grounding": 1.0},
        "tasks": {"SynObjects": {"acc": 0.5, "num_correct": 5, "num_pred": 10}},
    })  # fmt: skip
    out = tmp_path / "m.json"
    argv = ["--cfg", json.dumps({"run": "rge", "mode": "direct"}), f"--input=summary={summary}",
            f"--output=metrics={out}"]  # fmt: skip
    metrics.main(argv)
    assert json.loads(out.read_text()) == {
        "run": "rge", "mode": "direct", "overall": 25.8, "IND": 30.0, "OOD": 12.5,
        "classification": 50.0, "vqa": 6.2, "retrieval": 33.3, "grounding": 100.0,
    }  # fmt: skip


def test_a_summary_without_overall_is_named():
    with pytest.raises(KeyError, match="leak_q \\(reasoning\\) has no 'overall'"):
        metrics.headline({"IND": 0.5}, "leak_q", "reasoning")


def test_a_missing_split_is_left_out():
    assert metrics.headline({"overall": 0.5, "IND": 0.5}, "r", "direct") == {
        "run": "r", "mode": "direct", "overall": 50.0, "IND": 50.0,
    }  # fmt: skip
