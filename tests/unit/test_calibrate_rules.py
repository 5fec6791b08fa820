"""benchmarks/calibrate.py: the budget and α / lr rules (written before any run), its run names
and the Snakemake plan it asks for (a dry run on a linked copy of a built study)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def cal(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    yield importlib.import_module("calibrate")
    sys.modules.pop("calibrate", None)


def test_budget_rule_stops_where_doubling_stops_paying(cal):
    assert cal.STEPS == (200, 400, 800)
    assert cal.pick_steps({200: 0.80, 400: 0.70, 800: 0.68}) == 400  # 0.02 < 0.05 after 400
    assert cal.pick_steps({200: 0.80, 400: 0.78, 800: 0.60}) == 200  # flat at the first doubling
    assert cal.pick_steps({200: 0.90, 400: 0.80, 800: 0.70}) == 800  # still falling: the largest


def test_alpha_lr_rule_takes_the_admissible_setting_nearest_the_paper(cal):
    def res(**correct):
        out = {
            (lm, con, lr): {"train_answer_correct": 0.5} for lm, con in cal.ALPHAS for lr in cal.LRS
        }
        for key, v in correct.items():
            lm, con, lr = key.split("_")
            out[(int(lm), int(con), float(lr))] = {"train_answer_correct": v}
        return out

    # 1:10 at the larger lr keeps its rationales: the paper's own setting
    assert cal.pick_setting(res(**{"1_10_0.001": 0.95})) == (1, 10, 1e-3)
    # only the smaller lr keeps them at 1:10; 1:1 would too, but 1:10 is nearer the paper
    assert cal.pick_setting(res(**{"1_10_0.0005": 0.91, "1_1_0.001": 0.97})) == (1, 10, 5e-4)
    assert cal.pick_setting(res(**{"10_1_0.001": 0.92})) == (10, 1, 1e-3)
    # none admissible: the highest training-row correctness
    assert cal.pick_setting(res(**{"1_1_0.0005": 0.8})) == (1, 1, 5e-4)


def test_run_names_reuse_the_curve_run_for_the_config_setting(cal):
    assert cal.sweep_name(1, 10, 1e-3, 400) == "cal_rge_400"
    runs = cal.sweep_runs(400)
    assert len(runs) == len(cal.ALPHAS) * len(cal.LRS) - 1 and "cal_rge_400" not in runs
    assert runs["cal_a1_1_lr5em4_400"] == {
        "objective": "rge", "pair": "q_self", "init": "cold_start", "max_steps": 400,
        "alpha_lm": 1, "alpha_con": 1, "lr": 5e-4, "eval_modes": ["reasoning"],
    }  # fmt: skip
    curve = cal.curve_runs()
    assert sorted(curve) == sorted(
        f"cal_{k}_{n}" for k in ("baseline_cs", "rge") for n in cal.STEPS
    )
    assert curve["cal_baseline_cs_800"]["objective"] == "baseline"


def test_link_upstream_names_what_is_missing(cal, tmp_path):
    with pytest.raises(FileNotFoundError, match="make study"):
        cal.link_upstream(tmp_path / "none", tmp_path / "cal")


def test_report_states_both_rules_outcomes(cal):
    m = {"ratio": 0.7, "train_answer_correct": 0.95, "ms_per_step": 500.0}
    curve = {n: {"baseline_cs": m, "rge": m} for n in cal.STEPS}
    sweep = {(lm, con, lr): m for lm, con in cal.ALPHAS for lr in cal.LRS}
    text = cal.report(curve, 400, sweep, (1, 10, 1e-3))
    assert "**400 steps**" in text and "**1:10 at lr 0.001**" in text
    assert text.count("| yes |") == len(sweep)
