"""pool_seeds: replicates of a seeded run pooled (mean, sample sd) and read by the tables."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from rge.io import read_json, write_json
from rge.report import paper_tables as pt
from rge.report.seeds import mean_sd, pool_summaries, score_cell
from rge.report.tables import to_markdown
from rge.stages import pool_seeds, table6
from tests.fixtures.slices import stage_cfg

PAPER = Path(__file__).resolve().parents[2] / "config" / "paper_numbers"
# Three replicates, two tasks: A (classification, IND), B (vqa, OOD). By hand:
#   A: 0.50, 0.60, 0.70 -> mean 0.60, sd sqrt((0.01 + 0 + 0.01) / 2) = 0.10
#   B: 0.20, 0.30, 0.10 -> mean 0.20, sd sqrt((0 + 0.01 + 0.01) / 2) = 0.10
#   overall (A+B)/2: 0.35, 0.45, 0.40 -> mean 0.40, sd sqrt((0.0025 + 0.0025 + 0) / 2) = 0.05
ACCS = [(0.50, 0.20), (0.60, 0.30), (0.70, 0.10)]
CONS = [1.0, 1.5, 2.0]  # final InfoNCE; ln(candidates) 2.0 -> ratios 0.5, 0.75, 1.0


def score(run: str, a: float, b: float, mode: str = "reasoning") -> dict:
    return {
        "run": run, "mode": mode, "overall": (a + b) / 2, "IND": a, "OOD": b,
        "meta_task": {"classification": a, "vqa": b},
        "tasks": {"A": {"acc": a, "acc_strict": a, "meta_task": "classification", "split": "IND"},
                  "B": {"acc": b, "acc_strict": b, "meta_task": "vqa", "split": "OOD"}},
        "prompt_protocol": "rge_release", "mean_rationale_tokens": 10.0 + a * 10,
    }  # fmt: skip


def train(run: str, con: float, seed: int) -> dict:
    return {"run": run, "final_con": con, "ln_batch": math.log(8), "ln_candidates": 2.0,
            "objective": "rge", "settings": {"run": run, "seed": seed, "alpha_lm": 1}}  # fmt: skip


@pytest.fixture
def replicate_files(tmp_path) -> list[tuple[str, Path]]:
    ins = []
    for s, (a, b) in enumerate(ACCS):
        path = tmp_path / "score_mmeb" / f"rge@{s}" / "reasoning.json"
        write_json(path, score(f"rge@{s}", a, b))
        ins.append(("summary", path))
    for s, con in enumerate(CONS):
        path = tmp_path / "train_run" / f"rge@{s}" / "summary.json"
        write_json(path, train(f"rge@{s}", con, s))
        ins.append(("train_summary", path))
    return ins


def test_mean_and_sample_sd_by_hand():
    assert mean_sd([0.35, 0.45, 0.40]) == pytest.approx((0.40, 0.05))
    assert mean_sd([0.7]) == (0.7, None)  # one seed: no sd
    assert mean_sd([0.5, None]) == (None, None)


def test_pool_seeds_stage_writes_mean_sd_and_training_facts(tmp_path, replicate_files):
    cfg = {"run": "rge", "mode": "reasoning", "replicates": ["rge@0", "rge@1", "rge@2"],
           "seeds": [0, 1, 2]}  # fmt: skip
    argv = ["--cfg", json.dumps(cfg), f"--output=pooled={tmp_path / 'pooled.json'}"]
    pool_seeds.main(argv + [f"--input={n}={p}" for n, p in replicate_files])
    got = read_json(tmp_path / "pooled.json")
    assert (got["run"], got["mode"], got["n"], got["seeds"]) == ("rge", "reasoning", 3, [0, 1, 2])
    assert got["tasks"]["A"]["acc"] == pytest.approx(0.60)
    assert got["sd"]["tasks"]["A"]["acc"] == pytest.approx(0.10)
    assert got["tasks"]["B"]["acc"] == pytest.approx(0.20)
    assert got["sd"]["tasks"]["B"]["acc"] == pytest.approx(0.10)
    assert (got["overall"], got["sd"]["overall"]) == pytest.approx((0.40, 0.05))
    assert got["meta_task"]["classification"] == pytest.approx(0.60)
    assert (got["IND"], got["OOD"]) == pytest.approx((0.60, 0.20))
    assert got["tasks"]["A"]["split"] == "IND" and got["num_tasks"] == 2
    assert got["mean_rationale_tokens"] == pytest.approx(16.0)  # 10 + mean(A) x 10
    t = got["train"]
    assert t["final_con"] == pytest.approx(1.5) and t["ratio"] == pytest.approx(0.75)
    assert [r["ratio"] for r in t["replicates"].values()] == pytest.approx([0.5, 0.75, 1.0])
    assert t["settings"] == {"alpha_lm": 1}  # run and seed differ per replicate by design


def test_pooling_refuses_summaries_of_another_run_or_task_set():
    good = [score(f"rge@{s}", a, b) for s, (a, b) in enumerate(ACCS)]
    trains = [train(f"rge@{s}", c, s) for s, c in enumerate(CONS)]
    reps = ["rge@0", "rge@1", "rge@2"]
    with pytest.raises(ValueError, match=r"summary 1 is rge@2/reasoning, expected rge@1"):
        pool_summaries("rge", "reasoning", reps, [0, 1, 2], [good[0], good[2], good[1]], trains)
    short = {**good[2], "tasks": {"A": good[2]["tasks"]["A"]}}
    with pytest.raises(ValueError, match=r"rge@2 scored tasks \['A'\]"):
        pool_summaries("rge", "reasoning", reps, [0, 1, 2], [*good[:2], short], trains)
    with pytest.raises(ValueError, match=r"training summary of 'rge@1' given for 'rge@0'"):
        pool_summaries("rge", "reasoning", reps, [0, 1, 2], good, [trains[1], *trains[1:]])


def test_a_table_prints_mean_sd_n_and_marks_one_seed_rows(tmp_path, replicate_files):
    reps = ["rge@0", "rge@1", "rge@2"]
    pooled = pool_summaries(
        "rge", "reasoning", reps, [0, 1, 2],
        [read_json(p) for n, p in replicate_files if n == "summary"],
        [read_json(p) for n, p in replicate_files if n == "train_summary"],
    )  # fmt: skip
    assert score_cell(pooled, "overall") == "40.0 ± 5.0"
    assert score_cell(score("x", 0.5, 0.2), "overall") == pytest.approx(35.0)
    one = score("alpha_1_1", 0.5, 0.3)
    write_json(tmp_path / "pooled.json", pooled)
    write_json(tmp_path / "one.json", one)
    write_json(tmp_path / "one_train.json", train("alpha_1_1", 1.0, 0))
    probe = tmp_path / "probe.json"
    write_json(probe, {"source": "tiny", "probe": {"accuracy": {"x": 1.0}}})
    rows = {"RGE (reasoning)": ["rge", "reasoning"], "1:1": ["alpha_1_1", "reasoning"]}
    cfg = stage_cfg("table6", study="smoke", rows=rows)
    argv = ["--cfg", json.dumps(cfg), f"--input=paper={PAPER / 'table06_reasoning_at_inference.csv'}",
            f"--input=summary={tmp_path / 'pooled.json'}", f"--input=summary={tmp_path / 'one.json'}",
            f"--input=train_summary={tmp_path / 'one_train.json'}", f"--input=probe={probe}"]  # fmt: skip
    argv += [f"--output={k}={tmp_path / ('t.' + k)}" for k in ("md", "csv", "tex")]
    table6.main(argv)
    md = (tmp_path / "t.md").read_text()
    assert "| rge (reasoning), mean ± sd (n=3) | 60.0 ± 10.0 | 20.0 ± 10.0 |" in md
    assert "| alpha_1_1 (reasoning), 1 seed | 50.0 | 30.0 |" in md
    # the training note of the seeded run: mean InfoNCE and each replicate's ratio
    assert "final training InfoNCE 1.500 (mean of 3 seeds)" in md
    assert "rge@0 0.50x, rge@1 0.75x, rge@2 1.00x; mean 0.75x" in md


def test_unpooled_tables_print_as_before():
    summaries = [score("baseline", 0.5, 0.25, "direct")]
    table = pt.table6("embedded", {"Baseline": ("baseline", "direct")}, summaries, [], None,
                      {"baseline": train("baseline", 1.0, 0)}, "t.csv")  # fmt: skip
    assert table.rows[0][:5] == ["ours", "Baseline", "baseline (direct)", 50.0, 25.0]
    assert "1 seed" not in to_markdown(table)
