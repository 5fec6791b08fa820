"""Tables 2 and 15: pairing with the paper's numbers only where tasks match."""

from __future__ import annotations

from pathlib import Path

import pytest

from rge.evaluate.metrics import aggregate
from rge.report.mmeb_tables import (
    AGGREGATE_OTHER,
    SOURCE_OURS,
    SOURCE_PAIRED,
    SOURCE_REF,
    T2_COLUMNS,
    read_csv,
    table2,
    table15,
    tie_rule_gaps,
)

PAPER = Path(__file__).resolve().parents[2] / "config" / "paper_numbers"
T2 = read_csv(PAPER / "table02_mmeb_main.csv", ["model", "backbone", *T2_COLUMNS])
T15 = read_csv(PAPER / "table15_mmeb_per_dataset.csv", ["meta_task", "dataset", "split"])
T15S = read_csv(PAPER / "table15_mmeb_summary.csv", ["row"])
META = {"Classification": "classification", "VQA": "vqa", "Retrieval": "retrieval",
        "Visual Grounding": "grounding"}  # fmt: skip
RGE = "RGE (Qwen2.5-VL-3B)"


def summary(run: str, mode: str, tasks: dict[str, tuple[float, str, str]]) -> dict:
    """A score_mmeb-style summary from {task: (acc, meta_task, split)}."""
    recs = {
        t: {"acc": a, "num_correct": 0, "num_pred": 1, "meta_task": m, "split": s}
        for t, (a, m, s) in tasks.items()
    }
    agg = aggregate({t: v[0] for t, v in tasks.items()}, {t: v[1] for t, v in tasks.items()},
                    {t: v[2] for t, v in tasks.items()})  # fmt: skip
    return {"run": run, "mode": mode, "tasks": recs, **agg}


SYNTH = summary(
    "rge", "direct",
    {"syn_cls": (0.5, "classification", "IND"), "syn_vqa": (0.25, "vqa", "OOD")},
)  # fmt: skip
MMEB = summary(
    "rge", "direct",
    {r["dataset"]: (float(r[RGE]) / 100, META[r["meta_task"]], r["split"]) for r in T15},
)  # fmt: skip


def test_table2_synthetic_shows_paper_only_as_reference():
    t = table2("embedded", [SYNTH], T2, {r["dataset"] for r in T15},
               pairs={"rge (direct)": "RGE (Qwen2.5VL-3B)"})  # fmt: skip
    assert t.rows[0][:2] == [SOURCE_OURS, "rge (direct)"]
    # classification 50.0, vqa 25.0, no retrieval/grounding, IND 50, OOD 25, overall 37.5
    assert t.rows[0][2:] == [50.0, 25.0, None, None, 50.0, 25.0, 37.5]
    assert [r[0] for r in t.rows[1:]] == [SOURCE_REF] * len(T2)
    assert "NOT a reproduction" in " ".join(t.notes)
    assert "`embedded`" in t.header[0] and "rge (direct)" in t.header[0]


def test_table2_pairs_when_tasks_are_mmeb():
    t = table2("paper", [MMEB], T2, {r["dataset"] for r in T15},
               pairs={"rge (direct)": "RGE (Qwen2.5VL-3B)"})  # fmt: skip
    ours, paired = t.rows[0], t.rows[1]
    assert paired[:2] == [SOURCE_PAIRED, "RGE (Qwen2.5VL-3B)"]
    assert paired[2:] == [64.4, 67.8, 70.2, 90.1, 75.3, 63.7, 70.1]
    # our aggregation of the paper's per-dataset numbers lands on the printed ones
    assert ours[2:] == pytest.approx(paired[2:], abs=0.051)
    assert sum(r[0] == SOURCE_REF for r in t.rows) == len(T2) - 1
    assert "NOT" not in " ".join(t.notes)


def test_table2_unknown_pair_raises():
    with pytest.raises(ValueError, match="no such row"):
        table2("x", [SYNTH], T2, set(), pairs={"rge (direct)": "RGE (3B)"})


def test_table15_synthetic():
    base = summary("base", "direct", {"syn_cls": (0.75, "classification", "IND")})
    t = table15("embedded", [SYNTH, base], T15, T15S, paper_columns=[RGE])
    assert t.columns == ["source", "meta_task", "task", "split", "rge (direct)",
                         "base (direct)", f"paper: {RGE}"]  # fmt: skip
    assert t.rows[0] == [SOURCE_OURS, "Classification", "syn_cls", "IND", 50.0, 75.0, None]
    assert t.rows[1] == [SOURCE_OURS, "VQA", "syn_vqa", "OOD", 25.0, None, None]
    # no task in common: no screens of paper-only rows with empty cells of ours
    assert not [r for r in t.rows if r[0] == SOURCE_REF]
    assert len(t.rows) == 2 + 7
    assert "table15_mmeb_per_dataset.csv" in t.notes[-2]
    agg = {r[2]: r for r in t.rows if r[0] == AGGREGATE_OTHER}
    assert agg["Avg. Scores"][4:] == [37.5, 75.0, 70.1]  # the paper's RGE average, other tasks


def test_table15_pairs_per_task_by_name_only():
    part = summary("rge", "direct", {"OK-VQA": (0.7, "vqa", "IND"),
                                     "syn_cls": (0.5, "classification", "IND")})  # fmt: skip
    t = table15("embedded", [part], T15, T15S, paper_columns=[RGE])
    okvqa = next(r for r in t.rows if r[2] == "OK-VQA" and r[0] != SOURCE_REF)
    assert okvqa == ["ours | paper (same task)", "VQA", "OK-VQA", "IND", 70.0, 69.2]
    assert sum(r[0] == SOURCE_REF for r in t.rows) == 35  # the paper's other datasets
    agg = {r[2]: r for r in t.rows if r[0].startswith("aggregate")}
    assert agg["Avg. Scores"][0] == AGGREGATE_OTHER  # averages over other task sets


def test_table15_full_mmeb_pairs_aggregates():
    t = table15("paper", [MMEB], T15, T15S)
    assert len(t.columns) == 4 + 1 + 9
    assert not any(r[0] == SOURCE_REF for r in t.rows)
    tasks = [r for r in t.rows if r[0] == "ours | paper (same task)"]
    assert len(tasks) == 36 and tasks[0][2] == "ImageNet-1K"
    for r in tasks:
        assert r[4] == pytest.approx(r[-1])  # our column holds the paper's RGE numbers here
    agg = {r[2]: r for r in t.rows if r[0].startswith("aggregate")}
    assert agg["Avg. Scores"][4] == pytest.approx(agg["Avg. Scores"][-1], abs=0.051)


def test_table15_bad_paper_column():
    with pytest.raises(ValueError, match="paper column"):
        table15("x", [SYNTH], T15, T15S, paper_columns=["Nope"])


def test_tie_rule_note_names_tasks_with_a_gap_and_protocol_in_header():
    collapsed = summary(
        "untrained", "direct",
        {"syn_cls": (1.0, "classification", "IND"), "syn_vqa": (0.25, "vqa", "OOD")},
    )  # fmt: skip
    collapsed["tasks"]["syn_cls"]["acc_strict"] = 0.0  # constant embedding: 100 % vs 0 %
    collapsed["tasks"]["syn_vqa"]["acc_strict"] = 0.246  # 0.4 points: under the threshold
    collapsed["prompt_protocol"] = "rge_release"
    assert tie_rule_gaps([collapsed]) == ["untrained (direct) syn_cls: acc 100.0 vs strict 0.0"]
    tasks = {r["dataset"] for r in T15}
    for t in (
        table2("embedded", [collapsed, SYNTH], T2, tasks),
        table15("embedded", [collapsed], T15, T15S),
    ):
        note = t.notes[-1]
        assert "more than 0.5 points" in note and note.endswith("syn_cls: acc 100.0 vs strict 0.0.")
        assert "syn_vqa" not in note
        assert "untrained (direct): rge_release" in t.header[1]
    assert "rge (direct): not recorded" in table2("embedded", [SYNTH], T2, tasks).header[1]
    # the table shows acc (the release rule), not the strict score
    assert table15("embedded", [collapsed], T15, T15S).rows[0][4] == 100.0
    assert table2("embedded", [SYNTH], T2, tasks).notes[-1].startswith("Strict-rule scores")
    synth_strict = {
        **SYNTH,
        "tasks": {k: {**v, "acc_strict": v["acc"]} for k, v in SYNTH["tasks"].items()},
    }
    assert (
        table2("embedded", [synth_strict], T2, tasks)
        .notes[-1]
        .endswith("points (a degenerate embedding or repeated candidates): none.")
    )


def test_an_eval_only_summary_is_labelled_so():
    from rge.report.mmeb_tables import run_label

    assert run_label({"run": "untrained_backbone", "mode": "direct", "eval_only": True}) == (
        "untrained_backbone (direct, eval-only)"
    )
    assert run_label({"run": "rge", "mode": "reasoning", "eval_only": False}) == "rge (reasoning)"
