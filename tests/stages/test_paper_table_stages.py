"""table1, table3, table4, table6 and table7 stages end to end on hand-made score files."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from rge.io import write_json, write_jsonl
from rge.stages import table1, table3, table4, table6, table7
from tests.fixtures.slices import stage_cfg

PAPER = Path(__file__).resolve().parents[2] / "config" / "paper_numbers"
META = {"classification": 0.5, "vqa": 0.25, "retrieval": 0.125, "grounding": 0.75}
TASKS = {"SynNews_t2i": 0.5, "SynNews_i2t": 0.25, "SynCOCO_t2i": 0.125, "SynCOCO_i2t": 1.0}


@pytest.fixture
def files(tmp_path) -> dict[str, Path]:
    """Score summaries of runs a/b/c, their training summaries and a probe report."""
    out = {}
    for run, mode in (("a", "direct"), ("b", "direct"), ("b", "reasoning"), ("c", "direct")):
        out[f"{run}-{mode}"] = tmp_path / "score_mmeb" / run / f"{mode}.json"
        write_json(out[f"{run}-{mode}"], {
            "run": run, "mode": mode, "meta_task": META, "overall": 0.5, "IND": 0.5, "OOD": 0.5,
            "tasks": {t: {"acc": a, "meta_task": "retrieval", "split": "IND"}
                      for t, a in TASKS.items()},
        })  # fmt: skip
    for run, con in (("a", 2.0), ("b", 0.25), ("c", 1.0)):
        out[f"train-{run}"] = tmp_path / "train_run" / run / "summary.json"
        write_json(out[f"train-{run}"], {"final_con": con, "ln_batch": math.log(8),
                                         "ln_candidates": math.log(8), "objective": "rge"})  # fmt: skip
    out["probe"] = tmp_path / "probe.json"
    write_json(out["probe"], {"source": "tiny", "probe": {"accuracy": {"x": 1.0, "y": 0.5}}})
    return out


def _argv(cfg: dict, inputs: list[tuple[str, Path]], out: Path, paper: str) -> list[str]:
    argv = ["--cfg", json.dumps(cfg), f"--input=paper={PAPER / paper}"]
    argv += [f"--input={name}={path}" for name, path in inputs]
    return argv + [f"--output={k}={out / ('t.' + k)}" for k in ("md", "csv", "tex")]


def _csv(out: Path) -> list[dict[str, str]]:
    with open(out / "t.csv", newline="") as fh:
        return list(csv.DictReader(fh))


def _runs(files, *keys) -> list[tuple[str, Path]]:
    ins = [("summary", files[k]) for k in keys if not k.startswith("train")]
    ins += [("train_summary", files[k]) for k in keys if k.startswith("train")]
    return ins + [("probe", files["probe"])]


def test_table1_stage(files, tmp_path):
    cfg = stage_cfg("table1", study="embedded",
           rows={"q->t": ["a", "direct"], "(q;r_oracle)->t": ["c", "direct"],
                 "(q;r_self)->t": ["b", "reasoning"]},
           columns={"SynNews_t2i": "VisualNews_t2i", "SynNews_i2t": "VisualNews_i2t",
                    "SynCOCO_t2i": "MSCOCO_t2i", "SynCOCO_i2t": "MSCOCO_i2t"})  # fmt: skip
    ins = _runs(files, "a-direct", "c-direct", "b-reasoning", "train-a", "train-b", "train-c")
    result = table1.main(_argv(cfg, ins, tmp_path, "table01_leakage_small.csv"))
    rows = _csv(tmp_path)
    assert result == {"rows": 6} and len(rows) == 6
    assert list(rows[0].values()) == ["ours", "q->t", "a (direct)", "50.0", "25.0", "12.5", "100.0"]
    assert list(rows[5].values())[:4] == ["paper", "(q;r_self)->t", "", "71.5"]
    md = (tmp_path / "t.md").read_text()
    assert "runs: a (direct), c (direct), b (reasoning)" in md
    assert "Run `b`: backbone probe mean 75.0%, min 50.0% over 2 attributes; final training " \
        "InfoNCE 0.250 vs ln(batch 8) = 2.079 (0.12x)." in md  # fmt: skip
    assert r"\begin{tabular}" in (tmp_path / "t.tex").read_text()


def test_table1_prints_each_tasks_chance_level(files, tmp_path):
    cfg = stage_cfg("table1", study="embedded", rows={"q->t": ["a", "direct"]},
                    columns={"SynNews_t2i": "VisualNews_t2i", "SynCOCO_i2t": "MSCOCO_i2t"})  # fmt: skip
    folder = tmp_path / "embed_eval" / "a" / "direct"
    # 8 candidates per query on one task; 4 and 2 on the other: mean of 1/4 and 1/2 = 0.375
    write_jsonl(
        folder / "SynNews_t2i.predictions.jsonl",
        [{"key": f"k{i}", "correct": True, "num_candidates": 8} for i in range(3)],
    )
    write_jsonl(
        folder / "SynCOCO_i2t.predictions.jsonl",
        [{"key": "k0", "num_candidates": 4}, {"key": "k1", "num_candidates": 2}],
    )
    ins = _runs(files, "a-direct", "train-a") + [("evaluation", folder)]
    table1.main(_argv(cfg, ins, tmp_path, "table01_leakage_small.csv"))
    chance = [r for r in _csv(tmp_path) if r["source"] == "chance"]
    assert [list(r.values()) for r in chance] == [
        ["chance", "chance (1 / candidates)", "", "12.5", "37.5"]
    ]
    write_jsonl(folder / "SynNews_t2i.predictions.jsonl", [{"key": "k0", "num_candidates": 0}])
    with pytest.raises(ValueError, match="SynNews_t2i.predictions.jsonl: row 0"):
        table1.main(_argv(cfg, ins, tmp_path, "table01_leakage_small.csv"))


@pytest.mark.parametrize(
    ("stage", "paper", "rows", "paper_row"),
    [
        (table3, "table03_loss_balance.csv", {"1:10": ["b", "reasoning"],
         "0 (no LM loss)": ["a", "direct"]}, ["paper", "1:10", "", "62.9"]),
        (table4, "table04_contrastive_pair.csv", {"(q;r_self)->t": ["b", "reasoning"],
         "(q;r_oracle)->t": ["c", "direct"]}, ["paper", "(q;r_self)->t", "", "62.9"]),
        (table6, "table06_reasoning_at_inference.csv", {"RGE (reasoning)": ["b", "reasoning"],
         "RGE (direct)": ["b", "direct"]}, ["paper", "RGE (reasoning)", "", "62.9"]),
    ],
)  # fmt: skip
def test_meta_task_table_stages(stage, paper, rows, paper_row, files, tmp_path):
    keys = [f"{run}-{mode}" for run, mode in rows.values()]
    keys += [f"train-{run}" for run in dict.fromkeys(r for r, _ in rows.values())]
    # hand-made rows: none of the smoke config's labels is templated here
    cfg = stage_cfg(stage.__name__.rpartition(".")[2], study="smoke", rows=rows, label_templates={})
    stage.main(_argv(cfg, _runs(files, *keys), tmp_path, paper))
    out = _csv(tmp_path)
    first_label = next(iter(rows))
    assert list(out[0].values()) == ["ours", first_label, f"{rows[first_label][0]} "
                                     f"({rows[first_label][1]})", "50.0", "25.0", "12.5", "75.0",
                                     "50.0", "", "—", "0.12"]  # fmt: skip
    assert list(out[1].values())[:4] == paper_row
    assert "NOT a reproduction" in (tmp_path / "t.md").read_text()


def test_meta_table_stage_without_a_runs_training_summary_names_it(files, tmp_path):
    argv = _argv(stage_cfg("table4", study="e", rows={"q->t": ["a", "direct"]}), _runs(files, "a-direct",
                 "train-b"), tmp_path, "table04_contrastive_pair.csv")  # fmt: skip
    with pytest.raises(KeyError, match="training summary"):
        table4.main(argv)


def test_table7_stage(tmp_path, files):
    ins = []
    combos = [("baseline", "direct", "direct")] + [
        ("rge", q, t) for q in ("direct", "reasoning") for t in ("direct", "reasoning")
    ]
    for run, q, t in combos:
        for bench, base in (("SynFlickr", 0.2), ("SynCOCO", 0.4)):
            path = tmp_path / "score_retrieval" / run / bench / f"{q}-{t}.json"
            rec = {"R@1": base, "R@5": base + 0.25, "R@10": base + 0.5}
            write_json(path, {"run": run, "bench": bench, "query_mode": q, "target_mode": t,
                              "t2i": rec, "i2t": rec, "num_images": 10})  # fmt: skip
            ins.append(("score", path))
    for run in ("baseline", "rge"):
        path = tmp_path / "train_run" / run / "summary.json"
        write_json(path, {"final_con": 1.0, "ln_batch": math.log(8), "ln_candidates": 3.0})
        ins.append(("train_summary", path))
    ins.append(("probe", files["probe"]))
    cfg = stage_cfg(
        "table7",
        study="embedded",
        benches={"SynFlickr": "flickr", "SynCOCO": "coco"},
        baseline_run="baseline",
        rge_run="rge",
    )  # the smoke slice names rge@0
    table7.main(_argv(cfg, ins, tmp_path, "table07_flickr_coco.csv"))
    rows = _csv(tmp_path)
    assert list(rows[0].values())[:8] == ["ours", "Baseline", "no", "no", "20.0", "45.0", "70.0",
                                          "40.0"]  # fmt: skip
    assert rows[1]["model"] == "Baseline (Qwen2.5VL-3B)" and rows[1]["source"] == "paper"
    unknown = [r for r in rows if r["query reasoning"] == "unknown"]
    assert [r["model"] for r in unknown] == [
        f"RGE (paper; reasoning sides unknown, row {k})" for k in (1, 2, 3, 4)
    ]
    assert len([r for r in rows if r["source"] == "ours"]) == 5 and len(rows) == 13
    assert "ln(candidates) = 3.000" in (tmp_path / "t.md").read_text()


def test_table3_labels_show_the_alphas_the_run_trained_with(files, tmp_path):
    """The config's alpha_1_20 says 1:20, its training summary says alpha_con 40: "1:40"."""
    write_json(files["train-b"], {"final_con": 0.25, "ln_batch": math.log(8), "objective": "rge",
                                  "settings": {"alpha_lm": 1.0, "alpha_con": 40.0}})  # fmt: skip
    cfg = {"study": "smoke", "rows": {"1:20": ["b", "reasoning"], "0 (no LM loss)": ["a", "direct"]},
           "label_templates": {"1:20": "{alpha_lm:g}:{alpha_con:g}"}}  # fmt: skip
    ins = _runs(files, "b-reasoning", "a-direct", "train-b", "train-a")
    table3.main(_argv(cfg, ins, tmp_path, "table03_loss_balance.csv"))
    labels = [tuple(row.values())[:3] for row in _csv(tmp_path)]
    # "1:40" has no paper row (the paper has no 1:40); "0 (no LM loss)" is followed by its own
    assert labels[:3] == [("ours", "1:40", "b (reasoning)"), ("ours", "0 (no LM loss)",
                          "a (direct)"), ("paper", "0 (no LM loss)", "")]  # fmt: skip
    unpaired = "paper (reference only: not paired with ours)"
    assert (unpaired, "1:20", "") in labels and (unpaired, "1:40", "") not in labels
