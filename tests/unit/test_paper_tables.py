"""Paper Tables 1, 3, 4, 6, 7 and the Fig. 4 helpers on hand-made inputs: exact numbers."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from rge.report import paper_tables as pt
from rge.report.leakage import curve_rows, moving_average, window_stats
from rge.report.mmeb_tables import read_csv
from rge.report.tables import to_csv, to_markdown

PAPER = Path(__file__).resolve().parents[2] / "config" / "paper_numbers"
PROBE = {"source": "tiny", "probe": {"accuracy": {"a": 1.0, "b": 0.9, "c": 0.95, "d": 0.85}}}
HUB = {"source": "hub", "probe": None}


def summary(run: str, mode: str, meta: dict[str, float], tasks: dict[str, float] | None = None):
    overall = sum(meta.values()) / len(meta)
    return {"run": run, "mode": mode, "meta_task": meta, "overall": overall, "IND": 0, "OOD": 0,
            "tasks": {t: {"acc": a} for t, a in (tasks or {}).items()}}  # fmt: skip


def train_summary(con: float | None, batch: int = 16, cands: int | None = None) -> dict:
    return {"final_con": con, "ln_batch": math.log(batch),
            "ln_candidates": math.log(cands or batch), "objective": "rge"}  # fmt: skip


META = {"classification": 0.5, "vqa": 0.25, "retrieval": 0.125, "grounding": 0.75}
TRAIN = {"baseline": train_summary(1.3863, 16, 32), "rge": train_summary(0.5)}


def test_probe_and_infonce_numbers():
    assert pt.probe_numbers(PROBE) == "mean 92.5%, min 85.0% over 4 attributes"
    assert pt.probe_numbers(HUB) == "n/a (pretrained hub checkpoint)"
    failed = {**PROBE, "passed": False, "probe_threshold": 0.9, "below_threshold": ["b", "d"]}
    assert pt.probe_numbers(failed) == (
        "mean 92.5%, min 85.0% over 4 attributes (BELOW the threshold 0.9 on b, d)"
    )
    assert pt.infonce_numbers(train_summary(0.5)) == (
        "final training InfoNCE 0.500 vs ln(batch 16) = 2.773 (0.18x)"
    )
    # with hard negatives the candidate count's log is given as well
    assert pt.infonce_numbers(train_summary(1.3863, 16, 32)).endswith(
        "(0.50x); ln(candidates) = 3.466"
    )
    assert "no contrastive loss" in pt.infonce_numbers(train_summary(None))


def test_meta_table_pairs_labels_and_renders_percentages():
    paper = read_csv(PAPER / "table04_contrastive_pair.csv", ["contrastive_pair"])
    rows = {"q->t": ("baseline", "direct"), "(q;r_self)->t": ("rge", "reasoning"),
            "our extra": ("rge", "direct")}  # fmt: skip
    summaries = [summary("baseline", "direct", META), summary("rge", "reasoning", META),
                 summary("rge", "direct", {**META, "vqa": 0.5})]  # fmt: skip
    table = pt.table4("embedded", rows, summaries, paper, PROBE, TRAIN, "t04.csv")
    got = [[r[0], r[1], r[2], *r[3:]] for r in table.rows]
    # learned: 1.3863 / ln(32 candidates) = 0.40; a direct row has no rationale
    assert got[0] == ["ours", "q->t", "baseline (direct)", 50.0, 25.0, 12.5, 75.0, 40.625, "—",
                      "—", "0.40"]  # fmt: skip
    assert got[1] == ["paper", "q->t", None, 58.5, 61.8, 63.3, 82.3, 63.7, None, None, None]
    assert got[2][:3] == ["ours", "(q;r_self)->t", "rge (reasoning)"]
    assert got[3] == ["paper", "(q;r_self)->t", None, 62.9, 67.5, 65.4, 84.5, 67.4, None, None,
                      None]  # fmt: skip
    assert got[2][-3:] == [None, "—", "0.18"]  # no rationale probe given; 0.5 / ln 16
    assert got[4][:4] == ["ours", "our extra", "rge (direct)", 50.0]  # no paper row: unpaired
    assert got[5][:2] == ["paper (reference only: not paired with ours)", "(q;r_oracle)->t"]
    assert len(got) == 6
    csv = to_csv(table).splitlines()
    assert csv[1] == "ours,q->t,baseline (direct),50.0,25.0,12.5,75.0,40.6,—,—,0.40"
    md = to_markdown(table)
    assert (
        "Config (study): `embedded`; runs: baseline (direct), rge (reasoning), rge (direct)" in md
    )
    assert "NOT a reproduction" in md
    assert "Run `baseline`: backbone probe mean 92.5%, min 85.0% over 4 attributes; final " in md
    assert "Run `rge`: backbone probe mean 92.5%" in md and md.count("Run `rge`") == 1


def test_paper_study_has_no_disclaimer_and_hub_probe_is_na():
    paper = read_csv(PAPER / "table03_loss_balance.csv", ["alpha_lm_to_alpha_con"])
    table = pt.table3("paper", {"1:10": ("rge", "reasoning")},
                      [summary("rge", "reasoning", META)], paper, HUB, TRAIN, "t03.csv")  # fmt: skip
    md = to_markdown(table)
    assert "NOT a reproduction" not in md and "Paper study" in md
    assert "backbone probe n/a (pretrained hub checkpoint)" in md
    labels = [r[1] for r in table.rows]
    # all eight paper rows are shown, 1:100 included; 1:10 right after ours
    assert labels[:2] == ["1:10", "1:10"] and "1:100" in labels and len(labels) == 9


def test_table6_labels_from_model_and_reasoning():
    paper = read_csv(PAPER / "table06_reasoning_at_inference.csv", ["model"])
    assert [pt.table6_label(r) for r in paper] == ["Baseline", "RGE (direct)", "RGE (reasoning)"]
    rows = {"RGE (direct)": ("rge", "direct")}
    table = pt.table6("embedded", rows, [summary("rge", "direct", META)], paper, PROBE, TRAIN,
                      "t06.csv")  # fmt: skip
    assert table.rows[1] == ["paper", "RGE (direct)", None, 62.8, 64.3, 63.3, 83.7, 65.7, None,
                             None, None]  # fmt: skip


def test_rows_say_whether_they_learned_and_how_often_the_rationale_is_right():
    paper = read_csv(PAPER / "table06_reasoning_at_inference.csv", ["model"])
    rows = {"Baseline": ("baseline", "direct"), "RGE (reasoning)": ("rge", "reasoning")}
    summaries = [summary("baseline", "direct", META), summary("rge", "reasoning", META)]
    train = {"baseline": train_summary(1.0), "rge": train_summary(2.7)}  # 2.7 / ln 16 = 0.97
    probes = [{"run": "rge@0", "mode": "reasoning", "mean": {"answer_correct": 0.5},
               "train": {"answer_correct": 0.9}},
              {"run": "rge@1", "mode": "reasoning", "mean": {"answer_correct": 0.7},
               "train": {"answer_correct": 0.8}}]  # fmt: skip
    right = pt.rationale_right(probes)
    assert right == {
        ("rge", "reasoning"): pytest.approx(0.6),
        ("rge", "train"): pytest.approx(0.85),
    }
    table = pt.table6("embedded", rows, summaries, paper, PROBE, train, "t06.csv", right)
    ours = [r for r in table.rows if r[0] == "ours"]
    assert ours[0][-3:] == ["—", "—", "0.36"]  # 1.0 / ln 16
    assert ours[1][-3:-1] == [pytest.approx(60.0), pytest.approx(85.0)]
    assert ours[1][-1] == "*not trained* (0.97)"
    assert "above 0.95 the row is *not trained*" in to_markdown(table)
    # a seeded run: its pooled summary's mean ratio over replicates (rge.report.seeds)
    pooled = {"rge": {**train_summary(2.65), "ratio": 0.96, "replicates": {}}}
    assert pt.learned_cells("rge", "reasoning", pooled, right, ()) == [
        pytest.approx(60.0),
        pytest.approx(85.0),
        "*not trained* (0.96)",
    ]
    pooled["rge"]["ratio"] = 0.5
    assert pt.learned_cells("rge", "reasoning", pooled, {}, ())[2] == "0.50"
    assert pt.learned_cells("other", "direct", pooled, {}, ()) == ["—", "—", None]
    assert pt.learned_cells("ckpt", "direct", {}, {}, {"ckpt"}) == ["—", "—", "eval-only"]
    with pytest.raises(ValueError, match="rationale probe 0"):
        pt.rationale_right([{"mode": "reasoning"}])


def test_missing_inputs_are_named():
    paper = read_csv(PAPER / "table04_contrastive_pair.csv", ["contrastive_pair"])
    with pytest.raises(KeyError, match="score_mmeb summary for \\('rge', 'reasoning'\\)"):
        pt.table4("e", {"q->t": ("rge", "reasoning")}, [summary("rge", "direct", META)], paper,
                  PROBE, TRAIN, "t")  # fmt: skip
    with pytest.raises(KeyError, match="training summary"):
        pt.table4("e", {"q->t": ("other", "direct")}, [summary("other", "direct", META)], paper,
                  PROBE, TRAIN, "t")  # fmt: skip
    with pytest.raises(ValueError, match="given twice"):
        pt.index_summaries([summary("a", "direct", META), summary("a", "direct", META)])
    with pytest.raises(ValueError, match="expected \\[run, mode\\]"):
        pt.parse_rows({"q->t": "baseline"})


T1_COLUMNS = {"SynNews_t2i": "VisualNews_t2i", "SynNews_i2t": "VisualNews_i2t",
              "SynCOCO_t2i": "MSCOCO_t2i", "SynCOCO_i2t": "MSCOCO_i2t"}  # fmt: skip


def test_table1_maps_our_tasks_to_the_paper_columns():
    paper = read_csv(PAPER / "table01_leakage_small.csv", ["contrastive_pair"])
    tasks = {"SynNews_t2i": 0.5, "SynNews_i2t": 0.25, "SynCOCO_t2i": 0.125, "SynCOCO_i2t": 1.0,
             "SynObjects": 0.0}  # fmt: skip
    rows = {"(q;r_oracle)->t": ("t1_oracle", "direct")}
    train = {"t1_oracle": train_summary(0.1)}
    table = pt.table1("embedded", rows, T1_COLUMNS, [summary("t1_oracle", "direct", META, tasks)],
                      paper, PROBE, train)  # fmt: skip
    assert table.columns[3:] == [
        "VisualNews_t2i [ours: SynNews_t2i]", "VisualNews_i2t [ours: SynNews_i2t]",
        "MSCOCO_t2i [ours: SynCOCO_t2i]", "MSCOCO_i2t [ours: SynCOCO_i2t]",
    ]  # fmt: skip
    assert table.rows[0] == ["ours", "(q;r_oracle)->t", "t1_oracle (direct)", 50.0, 25.0, 12.5,
                             100.0]  # fmt: skip
    assert table.rows[1] == ["paper", "(q;r_oracle)->t", None, 46.2, 59.4, 56.5, 55.1]
    assert [r[0] for r in table.rows[2:]] == ["paper (reference only: not paired with ours)"] * 2
    assert "final training InfoNCE 0.100 vs ln(batch 16)" in to_markdown(table)
    with pytest.raises(KeyError, match="no task"):
        pt.table1("e", rows, {"SynFoo": "MSCOCO_t2i"},
                  [summary("t1_oracle", "direct", META, tasks)], paper, PROBE, train)  # fmt: skip
    with pytest.raises(ValueError, match="no column 'Flickr'"):
        pt.table1("e", rows, {"SynNews_t2i": "Flickr"},
                  [summary("t1_oracle", "direct", META, tasks)], paper, PROBE, train)  # fmt: skip


def retrieval(run: str, bench: str, qm: str, tm: str, base: float) -> dict:
    rec = {"R@1": base, "R@5": base + 0.1, "R@10": base + 0.2}
    return {"run": run, "bench": bench, "query_mode": qm, "target_mode": tm,
            "t2i": rec, "i2t": {k: v / 2 for k, v in rec.items()}}  # fmt: skip


def t7_scores() -> list[dict]:
    out = []
    for b, bench in enumerate(("SynFlickr", "SynCOCO")):
        out.append(retrieval("baseline", bench, "direct", "direct", 0.1 + b * 0.01))
        for i, (q, t) in enumerate(pt.COMBOS):
            out.append(retrieval("rge", bench, q, t, 0.2 + 0.1 * i + b * 0.01))
    return out


def test_table7_labels_combinations_and_never_pairs_the_unknown_rows():
    paper = read_csv(PAPER / "table07_flickr_coco.csv", ["model"])
    benches = {"SynFlickr": "flickr", "SynCOCO": "coco"}
    table = pt.table7("embedded", "baseline", "rge", benches, t7_scores(), paper, PROBE, TRAIN)
    cols = table.columns
    assert cols[4:7] == ["Flickr30K t2i R@1", "Flickr30K t2i R@5", "Flickr30K t2i R@10"]
    assert cols[7] == "COCO t2i R@1" and cols[10] == "Flickr30K i2t R@1" and len(cols) == 16
    rows = [r for r in table.rows]
    assert rows[0][:4] == ["ours", "Baseline", "no", "no"]
    assert rows[0][4:8] == pytest.approx([10.0, 20.0, 30.0, 11.0])
    assert rows[0][10] == pytest.approx(5.0)  # i2t halves
    assert rows[1][:4] == ["paper", "Baseline (Qwen2.5VL-3B)", "no", "no"]
    assert rows[1][4] == 74.9
    ours = [r for r in rows if r[0] == "ours"]
    assert [r[1] for r in ours[1:]] == [
        "RGE (query reasoning: no, target reasoning: no)",
        "RGE (query reasoning: yes, target reasoning: no)",
        "RGE (query reasoning: no, target reasoning: yes)",
        "RGE (query reasoning: yes, target reasoning: yes)",
    ]
    assert [r[2:4] for r in ours[1:]] == [["no", "no"], ["yes", "no"], ["no", "yes"],
                                          ["yes", "yes"]]  # fmt: skip
    assert ours[2][4] == pytest.approx(30.0) and ours[2][7] == pytest.approx(31.0)
    # the paper's RGE rows: numbered, unknown sides, reference only, never right after ours
    unknown = [i for i, r in enumerate(rows) if "reasoning sides unknown" in str(r[1])]
    assert [rows[i][1] for i in unknown] == [
        f"RGE (paper; reasoning sides unknown, row {k})" for k in (1, 2, 3, 4)
    ]
    assert all(rows[i][0] == pt.SOURCE_UNKNOWN and rows[i][2:4] == ["unknown"] * 2
               for i in unknown)  # fmt: skip
    assert [rows[i][4] for i in unknown] == [76.0, 77.7, 79.4, 80.4]
    assert all(r[0] != "paper" for r in rows if str(r[1]).startswith("RGE"))
    assert min(unknown) > max(i for i, r in enumerate(rows) if r[0] == "ours")
    refs = [r[1] for r in rows if r[0] == "paper (reference only: not paired with ours)"]
    assert refs == ["CLIP-L", "EVA-CLIP-5B", "VLM2Vec (Qwen2VL-7B)"]
    md = to_markdown(table)
    assert "Flickr30K <- ours SynFlickr, COCO <- ours SynCOCO" in md and "lost the check" in md


def test_table7_with_one_bench_and_missing_scores():
    paper = read_csv(PAPER / "table07_flickr_coco.csv", ["model"])
    scores = [s for s in t7_scores() if s["bench"] == "SynCOCO"]
    table = pt.table7("e", "baseline", "rge", {"SynCOCO": "coco"}, scores, paper, PROBE, TRAIN)
    assert table.rows[0][4:7] == [None, None, None] and table.rows[0][7] == pytest.approx(11.0)
    with pytest.raises(KeyError, match="score_retrieval score for \\('rge', 'SynCOCO', 'direct'"):
        pt.table7("e", "baseline", "rge", {"SynCOCO": "coco"},
                  [s for s in scores if s["run"] == "baseline"], paper, PROBE, TRAIN)  # fmt: skip
    with pytest.raises(ValueError, match="unknown paper bench"):
        pt.table7("e", "baseline", "rge", {"SynCOCO": "mscoco"}, scores, paper, PROBE, TRAIN)


def test_leakage_curve_helpers():
    log = [{"step": i + 1, "lm": 4.0 - i, "con": 2.0, "loss": 0} for i in range(4)]
    rows = curve_rows("wrong_query", log, "log")
    assert rows[0] == {"step": 1, "variant": "wrong_query", "lm": 4.0, "con": 2.0}
    assert window_stats(rows, 2) == {"first_lm": 3.5, "first_con": 2.0, "final_lm": 1.5,
                                     "final_con": 2.0}  # fmt: skip
    assert moving_average([1.0, 3.0, 5.0, 7.0], 2) == [1.0, 2.0, 4.0, 6.0]
    assert moving_average([1.0, 3.0], 1) == [1.0, 3.0]
    with pytest.raises(ValueError, match="row 0 lacks \\['lm'\\]"):
        curve_rows("x", [{"step": 1, "lm": None, "con": 1.0}], "f.jsonl")


def test_an_eval_only_row_has_no_training_check_and_says_so():
    paper = read_csv(PAPER / "table06_reasoning_at_inference.csv", ["model"])
    released = {**summary("released_rge", "reasoning", META), "eval_only": True}
    rows = {
        "RGE (direct)": ("rge", "direct"),
        "Released (eval-only)": ("released_rge", "reasoning"),
    }
    table = pt.table6("paper", rows, [summary("rge", "direct", META), released], paper, HUB,
                      TRAIN, "t06.csv")  # fmt: skip
    notes = "\n".join(table.notes)
    assert "Run `released_rge`: eval-only (a checkpoint evaluated without training here)" in notes
    assert "Run `rge`: backbone probe" in notes  # the trained run keeps its InfoNCE note
    # a trained run whose training summary is missing still fails
    with pytest.raises(KeyError, match="training summary"):
        pt.table6("paper", rows, [summary("rge", "direct", META), released], paper, HUB, {},
                  "t06.csv")  # fmt: skip


def test_table7_shows_eval_only_runs_in_each_of_their_modes():
    paper = read_csv(PAPER / "table07_flickr_coco.csv", ["model"])
    scores = t7_scores() + [
        retrieval("released_rge", bench, m, m, base)
        for bench in ("SynFlickr", "SynCOCO")
        for m, base in (("direct", 0.4), ("reasoning", 0.5))
    ]
    benches = {"SynFlickr": "flickr", "SynCOCO": "coco"}
    table = pt.table7("paper", "baseline", "rge", benches, scores, paper, HUB, TRAIN,
                      eval_only_modes={"released_rge": ["direct", "reasoning"]})  # fmt: skip
    mine = [r for r in table.rows if "released_rge" in str(r[1])]
    assert [r[:4] for r in mine] == [
        ["ours", "released_rge (eval-only, direct)", "no", "no"],
        ["ours", "released_rge (eval-only, reasoning)", "yes", "yes"],
    ]
    assert mine[1][4] == pytest.approx(50.0)
    assert any("`released_rge`: eval-only" in n for n in table.notes)
