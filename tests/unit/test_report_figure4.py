"""rge.report.figure4: variants read in the paper's order, one batch size required."""

from __future__ import annotations

import math

import pytest

from rge.io import write_json, write_jsonl
from rge.report.figure4 import build_figure4, read_variants


def variant_files(tmp_path, variant: str, batch: int, lm: list[float]):
    log, summary = tmp_path / f"{variant}.jsonl", tmp_path / f"{variant}.json"
    write_jsonl(log, [{"step": i + 1, "lm": v, "con": 2 * v} for i, v in enumerate(lm)])
    write_json(summary, {"variant": variant, "ln_batch": math.log(batch), "steps": len(lm)})
    return log, summary


def test_variants_come_out_in_the_papers_order(tmp_path):
    files = [variant_files(tmp_path, v, 4, [1.0]) for v in ("wrong_query", "mine", "consistent")]
    curves, summaries = read_variants([f[0] for f in files], [f[1] for f in files])
    assert list(curves) == ["consistent", "wrong_query", "mine"] == list(summaries)
    assert curves["consistent"] == [{"step": 1, "variant": "consistent", "lm": 1.0, "con": 2.0}]


def test_window_means_and_batch_size_check(tmp_path):
    a = variant_files(tmp_path, "consistent", 8, [4.0, 2.0, 1.0])
    b = variant_files(tmp_path, "wrong_target", 8, [3.0, 3.0, 0.0])
    fig = build_figure4("embedded", [a[0], b[0]], [a[1], b[1]], window=2)
    assert fig.ln_batch == pytest.approx(math.log(8))
    # first window = steps 1-2, final window = steps 2-3
    assert fig.stats["consistent"]["first_lm"] == pytest.approx(3.0)
    assert fig.stats["consistent"]["final_con"] == pytest.approx(3.0)
    assert fig.stats["wrong_target"]["final_lm"] == pytest.approx(1.5)
    assert "batch 8" in fig.note and "NOT a reproduction" in fig.note
    c = variant_files(tmp_path, "wrong_query", 16, [1.0])
    with pytest.raises(ValueError, match="different batch sizes"):
        build_figure4("embedded", [a[0], c[0]], [a[1], c[1]])
    with pytest.raises(ValueError, match="1 train_log inputs but 2 summaries"):
        read_variants([a[0]], [a[1], b[1]])
