"""Paper Tables 1, 3, 4, 6 and 7: our runs beside the paper's numbers.

Inputs are ``score_mmeb`` summaries (Tables 1, 3, 4, 6) or ``score_retrieval`` scores (Table 7),
all fractions (printed here as percentages), and the paper's transcribed CSVs (percentages).
A row of ours is followed by the paper row of the same label; paper rows without a row of ours
are printed as labelled reference rows. Table 7's four RGE rows lost their reasoning check marks
in the paper (``UNKNOWN`` in the CSV): they are never paired with a row of ours.

Every table's notes also give, per run, the two numbers that tell a backbone that cannot see
from a training run that took a shortcut: the backbone's perception-probe accuracy and the
run's final training InfoNCE against ln(batch size).
"""

from __future__ import annotations

import math
import os
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path

from rge.evaluate.metrics import META_TASKS
from rge.io import read_json
from rge.report.mmeb_tables import PAPER, SOURCE_OURS, SOURCE_REF
from rge.report.seeds import is_pooled, pooled_train, score_cell, seeds_marker
from rge.report.tables import Cell, Table, paper_number, percent

SOURCE_PAPER = "paper"
SOURCE_CHANCE = "chance"  # a random ranking's P@1 on each task, beside ours
SOURCE_UNKNOWN = "paper (reference only: reasoning sides unknown)"
META_COLUMNS = (*META_TASKS, "overall")
RunMode = tuple[str, str]


# ----------------------------------------------------------------------------- inputs


def index_summaries(summaries: Sequence[dict]) -> dict[RunMode, dict]:
    """``score_mmeb`` summaries by (run, mode); a pair given twice raises."""
    out: dict[RunMode, dict] = {}
    for i, s in enumerate(summaries):
        for key in ("run", "mode", "tasks", "meta_task", "overall"):
            if key not in s:
                raise ValueError(f"score summary {i}: lacks {key!r}")
        if (s["run"], s["mode"]) in out:
            raise ValueError(f"score summary {i}: run {s['run']!r} mode {s['mode']!r} given twice")
        out[s["run"], s["mode"]] = s
    return out


def pick(index: Mapping[tuple, dict], key: tuple, what: str) -> dict:
    """``index[key]``, or an error naming the missing input."""
    if key not in index:
        raise KeyError(f"no {what} for {key}; have {sorted(index)}")
    return index[key]


def read_train_summaries(paths: Sequence[str | os.PathLike]) -> dict[str, dict]:
    """``train_run`` summaries by run: the summary's ``run`` key, else its folder's name
    (``data/train_run/{run}/summary.json``); a run given twice raises."""
    out: dict[str, dict] = {}
    for path in paths:
        summary = read_json(path)
        run = summary.get("run") or Path(path).parent.name
        if run in out:
            raise ValueError(f"{path}: training summary of run {run!r} given twice")
        for key in ("final_con", "ln_batch"):
            if key not in summary:
                raise ValueError(f"{path}: training summary lacks {key!r}")
        out[run] = summary
    return out


def paper_index(rows: Sequence[dict[str, str]], label_key: str, file: str) -> dict[str, dict]:
    """Paper CSV rows by their label column."""
    if rows and label_key not in rows[0]:
        raise ValueError(f"{file}: no column {label_key!r}")
    return {r[label_key]: r for r in rows}


# ----------------------------------------------------------------------------- notes


def probe_numbers(report: dict | None) -> str:
    """The backbone's perception-probe accuracy (mean and min over attributes), as text."""
    probe = (report or {}).get("probe")
    if not probe:
        return "n/a (pretrained hub checkpoint)"
    acc = probe.get("accuracy")
    if not acc:
        raise ValueError("probe report: 'probe' has no 'accuracy' per attribute")
    values = list(acc.values())
    mean = 100.0 * sum(values) / len(values)
    text = f"mean {mean:.1f}%, min {100.0 * min(values):.1f}% over {len(values)} attributes"
    if report.get("passed") is False:
        text += f" (BELOW the threshold {report.get('probe_threshold')} on "
        text += f"{', '.join(report.get('below_threshold', []))})"
    return text


def infonce_ratio(summary: Mapping) -> float | None:
    """Final training InfoNCE / ln(candidates) (ln(batch size) when the summary has no
    ``ln_candidates``): ~1.0 is chance, i.e. nothing learned. None without a contrastive loss."""
    if summary.get("final_con") is None:
        return None
    ln_c = summary.get("ln_candidates")
    return float(summary["final_con"]) / float(ln_c if ln_c is not None else summary["ln_batch"])


def infonce_numbers(summary: dict) -> str:
    """A run's final training InfoNCE against ln(batch size) (and ln(candidates)), as text;
    for a seeded run (``rge.report.seeds.pooled_train``) the mean over its replicates and
    each replicate's ratio to ln(candidates)."""
    ln_b = float(summary["ln_batch"])
    batch = round(math.exp(ln_b))
    if summary.get("final_con") is None:
        return f"no contrastive loss logged (objective {summary.get('objective')!r})"
    if "replicates" in summary:
        ratios = ", ".join(f"{rep} {r['ratio']:.2f}x" for rep, r in summary["replicates"].items())
        return (
            f"final training InfoNCE {float(summary['final_con']):.3f} (mean of "
            f"{len(summary['replicates'])} seeds) vs ln(batch {batch}) = {ln_b:.3f}; "
            f"/ ln(candidates) per seed: {ratios}; mean {float(summary['ratio']):.2f}x"
        )
    con = float(summary["final_con"])
    text = f"final training InfoNCE {con:.3f} vs ln(batch {batch}) = {ln_b:.3f} ({con / ln_b:.2f}x)"
    ln_c = summary.get("ln_candidates")
    if ln_c is not None and abs(float(ln_c) - ln_b) > 1e-9:
        text += f"; ln(candidates) = {float(ln_c):.3f}"
    return text


def run_notes(
    runs: Sequence[str],
    probe: dict | None,
    train: Mapping[str, dict],
    eval_only: Collection[str] = (),
) -> list[str]:
    """One note per run with its probe and InfoNCE numbers, and how to read them.

    A run in ``eval_only`` (a checkpoint evaluated without training here) has no training
    summary and gets no training-loss check: its note says so.

    Raises:
        KeyError: a trained run without its training summary.
    """
    notes = [
        "Per run: the backbone's perception probe (low: the backbone cannot see the images) and "
        "the final training InfoNCE against ln(batch size) (near 1.00x: nothing was learned; far "
        "below 1.00x with poor scores above: a training shortcut, e.g. oracle-rationale leakage)."
    ]
    for run in dict.fromkeys(runs):
        if run in eval_only:
            notes.append(
                f"Run `{run}`: eval-only (a checkpoint evaluated without training here); no "
                "training loss to check."
            )
            continue
        summary = pick(train, run, "training summary (data/train_run/{run}/summary.json)")
        notes.append(
            f"Run `{run}`: backbone probe {probe_numbers(probe)}; {infonce_numbers(summary)}."
        )
    return notes


def study_notes(study: str) -> list[str]:
    """Whether our rows reproduce the paper's (only the ``paper`` study does)."""
    if study == "paper":
        return [
            "Paper study: our rows use the paper's benchmark and protocol; differences from the "
            "paired paper rows are differences of this reproduction."
        ]
    return [
        f"NOT a reproduction of the paper's numbers: the `{study}` study trains another model on "
        "other data and scores other tasks; the paper's rows are printed beside ours for "
        "orientation only."
    ]


def header(study: str, runs: Sequence[str], paper_file: str, metric: str) -> list[str]:
    """Header lines: config and runs that produced the table, paper source, metric."""
    return [
        f"Config (study): `{study}`; runs: {', '.join(dict.fromkeys(runs))}",
        f"Paper numbers: {PAPER}, from config/paper_numbers/{paper_file}",
        metric,
    ]


def _label(run: str, mode: str) -> str:
    return f"{run} ({mode})"


# ----------------------------------------------------------------------------- Tables 3, 4, 6


def _paper_row(
    source: str, label: str, row: Mapping[str, str], columns: Sequence[str]
) -> list[Cell]:
    """A paper row in the (source, label, run (mode), *columns) layout; no run of ours."""
    return [source, label, None, *[paper_number(row[c]) for c in columns]]


def _reference_rows(
    paper: Mapping[str, Mapping[str, str]], shown: Mapping[str, object], columns: Sequence[str]
) -> list[list[Cell]]:
    """The paper's rows with no row of ours under the same label, marked reference only."""
    return [_paper_row(SOURCE_REF, lab, r, columns) for lab, r in paper.items() if lab not in shown]


NOT_TRAINED = 0.95  # final InfoNCE / ln(candidates) above this: the row learned nothing
LEARNED_COLUMNS = ("rationale right %", "train rationale right %", "learned (InfoNCE / ln C)")
LEARNED_NOTE = (
    "rationale right %: share of queries whose self-written rationale states the right answer "
    "(rationale probe against the scene sidecar, mean over tasks; reasoning rows only). train "
    "rationale right %: the same for the rationales the run wrote for its own training pairs in "
    "its last 50 steps (q_self runs; a training-split measure, mean over subsets). learned: "
    f"final training InfoNCE / ln(candidates), mean over the run's seeds; above {NOT_TRAINED} "
    "the row is *not trained* (a chance-level embedding) and its scores are no finding."
)


def learned_cells(
    run: str, mode: str, train: Mapping[str, dict], rationale: Mapping[RunMode, float],
    eval_only: Collection[str],
) -> list[Cell]:  # fmt: skip
    """The row's rationale-right % ("—" in direct mode), its training-row rationale-right %
    (``(run, "train")`` of ``rationale``; "—" for a run that writes none) and its learned ratio
    (a seeded run's pooled summary gives the mean over its replicates,
    ``rge.report.seeds.pooled_train``), or *not trained* above ``NOT_TRAINED``."""
    right = "—" if mode == "direct" else percent(rationale.get((run, mode)))
    on_train = percent(rationale[(run, "train")]) if (run, "train") in rationale else "—"
    if run in eval_only:
        return [right, "—", "eval-only"]
    summary = train.get(run)
    if summary is None:
        return [right, on_train, None]
    ratio = summary["ratio"] if "ratio" in summary else infonce_ratio(summary)
    if ratio is None:
        return [right, on_train, "no InfoNCE"]
    learned = f"*not trained* ({ratio:.2f})" if ratio > NOT_TRAINED else f"{ratio:.2f}"
    return [right, on_train, learned]


def rationale_right(probes: Sequence[dict]) -> dict[RunMode, float]:
    """``{(base run, mode): answer correctness}`` from ``rationale_probe`` outputs, the mean over
    a run's seed replicates (``run@seed`` pools into ``run``), and ``(base run, "train")`` for
    the training-row correctness of a probe that has a ``train`` part."""
    pooled: dict[RunMode, list[float]] = {}
    for i, p in enumerate(probes):
        if "run" not in p or "mean" not in p:
            raise ValueError(f"rationale probe {i}: lacks 'run' or 'mean'")
        base = p["run"].partition("@")[0]
        value = p["mean"].get("answer_correct")
        if value is not None:
            pooled.setdefault((base, p["mode"]), []).append(float(value))
        on_train = (p.get("train") or {}).get("answer_correct")
        if on_train is not None:
            pooled.setdefault((base, "train"), []).append(float(on_train))
    return {k: sum(v) / len(v) for k, v in pooled.items()}


def meta_table(
    title: str,
    label_name: str,
    study: str,
    rows: Mapping[str, RunMode],
    summaries: Sequence[dict],
    paper: Mapping[str, dict[str, str]],
    probe: dict | None,
    train: Mapping[str, dict],
    paper_file: str,
    notes: Sequence[str] = (),
    rationale: Mapping[RunMode, float] | None = None,
) -> Table:
    """Per meta-task and overall scores, one row per label, the paper's row of that label below.

    Args:
        title: table title.
        label_name: header of the label column (e.g. "alpha_lm:alpha_con").
        study: the config's study name.
        rows: {label: (run, mode)} in display order; labels that the paper has get its row.
        summaries: ``score_mmeb`` summaries covering every (run, mode) of ``rows``.
        paper: {label: paper CSV row with the META_COLUMNS}.
        probe: the backbone report (``pretrain_backbone``), or None.
        train: training summaries by run.
        paper_file: the paper CSV's file name.
        notes: table-specific notes, printed first.
        rationale: {(run, mode): answer correctness in [0, 1]} (``rationale_right``); the
            columns ``LEARNED_COLUMNS`` follow the scores (empty: no probe, e.g. hub data).
    """
    index = index_summaries(summaries)
    columns = ["source", label_name, "run (mode)", *META_COLUMNS, *LEARNED_COLUMNS]
    eval_only = {s["run"] for s in summaries if s.get("eval_only")}
    # beside a pooled row (mean ± sd over seeds) every row of ours says how many seeds it is
    mark = any(is_pooled(pick(index, rm, "score_mmeb summary")) for rm in rows.values())
    out: list[list[Cell]] = []
    for label, (run, mode) in rows.items():
        s = pick(index, (run, mode), "score_mmeb summary")
        paths = [(c,) if c == "overall" else ("meta_task", c) for c in META_COLUMNS]
        marker = seeds_marker(s) if mark else ""
        shown = _label(run, mode) + (f", {marker}" if marker else "")
        learned = learned_cells(run, mode, train, rationale or {}, eval_only)
        out.append([SOURCE_OURS, label, shown, *[score_cell(s, *p) for p in paths], *learned])
        if label in paper:
            paper_row = _paper_row(SOURCE_PAPER, label, paper[label], META_COLUMNS)
            out.append(paper_row + [None] * len(LEARNED_COLUMNS))
    out += [r + [None] * len(LEARNED_COLUMNS) for r in _reference_rows(paper, rows, META_COLUMNS)]
    runs = [run for run, _ in rows.values()]
    notes = [*notes, LEARNED_NOTE]
    return Table(
        title=title,
        columns=columns,
        rows=out,
        header=header(study, [_label(*rm) for rm in rows.values()], paper_file, _MMEB_METRIC),
        notes=[*notes, *study_notes(study), *run_notes(runs, probe, train, eval_only)],
    )


_MMEB_METRIC = "Precision@1 in %; overall = unweighted mean over tasks."


def table3(study, rows, summaries, paper_rows, probe, train, paper_file, rationale=None) -> Table:
    """Paper Table 3 (loss balance alpha_lm:alpha_con); arguments as ``meta_table``, with
    ``paper_rows`` the rows of table03_loss_balance.csv."""
    return meta_table(
        "Table 3: ablation on the loss balance alpha_lm:alpha_con", "alpha_lm:alpha_con", study,
        rows, summaries, paper_index(paper_rows, "alpha_lm_to_alpha_con", paper_file), probe,
        train, paper_file, rationale=rationale,
        notes=["Paper: '0 (no LM loss)' is the non-reasoning baseline; its VQA cell (62.2) "
               "differs from the same baseline in Tables 4 and 6 (61.8), as printed in the paper. "
               "Its 1:10 row is the default RGE (Table 4 (q;r_self)->t, Table 6 RGE reasoning)."],
    )  # fmt: skip


def table4(study, rows, summaries, paper_rows, probe, train, paper_file, rationale=None) -> Table:
    """Paper Table 4 (contrastive pair q / q_oracle / q_self); arguments as ``meta_table``,
    with ``paper_rows`` the rows of table04_contrastive_pair.csv."""
    return meta_table(
        "Table 4: ablation on the contrastive supervision pair", "contrastive pair", study, rows,
        summaries, paper_index(paper_rows, "contrastive_pair", paper_file), probe, train,
        paper_file, rationale=rationale,
        notes=["q->t: no rationale; (q;r_oracle)->t: embedding from the LM forward over the "
               "oracle rationale (leaky); (q;r_self)->t: embedding after a self-generated "
               "rationale (RGE)."],
    )  # fmt: skip


def table6_label(row: dict[str, str]) -> str:
    """Row label of the paper's Table 6: ``Baseline``, ``RGE (direct)``, ``RGE (reasoning)``."""
    if row["model"] == "Baseline":
        return "Baseline"
    return f"{row['model']} ({'reasoning' if row['reasoning_at_inference'] == 'yes' else 'direct'})"


def table6(study, rows, summaries, paper_rows, probe, train, paper_file, rationale=None) -> Table:
    """Paper Table 6 (reasoning at inference); arguments as ``meta_table``, with ``paper_rows``
    the rows of table06_reasoning_at_inference.csv (labels from ``table6_label``)."""
    for key in ("model", "reasoning_at_inference"):
        if paper_rows and key not in paper_rows[0]:
            raise ValueError(f"{paper_file}: no column {key!r}")
    return meta_table(
        "Table 6: reasoning at inference", "model", study, rows, summaries,
        {table6_label(r): r for r in paper_rows}, probe, train, paper_file, rationale=rationale,
        notes=["direct: <emb> right after the input (no rationale); reasoning: the model writes "
               "its rationale first, then <emb>."],
    )  # fmt: skip


# ----------------------------------------------------------------------------- Table 1


def _paper_column(paper_rows: Sequence[dict[str, str]], name: str, file: str) -> str:
    """The CSV column whose name equals ``name`` up to case."""
    found = [c for c in (paper_rows[0] if paper_rows else {}) if c.lower() == name.lower()]
    if not found:
        raise ValueError(f"{file}: no column {name!r} (case-insensitive)")
    return found[0]


def table1(
    study: str,
    rows: Mapping[str, RunMode],
    columns: Mapping[str, str],
    summaries: Sequence[dict],
    paper_rows: Sequence[dict[str, str]],
    probe: dict | None,
    train: Mapping[str, dict],
    paper_file: str = "table01_leakage_small.csv",
    chance: Mapping[str, float] | None = None,
) -> Table:
    """Paper Table 1 (leakage, small scale): per-task Precision@1 of the three contrastive pairs.

    Args:
        study: the config's study name.
        rows: {label: (run, mode)}; labels as the CSV's ``contrastive_pair`` get its row.
        columns: {our task: paper task}, e.g. {"SynNews_t2i": "VisualNews_t2i"}, in order.
        summaries: ``score_mmeb`` summaries covering every (run, mode) of ``rows``.
        paper_rows: rows of table01_leakage_small.csv.
        probe, train, paper_file: as ``meta_table``.
        chance: {our task: chance P@1 in [0, 1]} (mean 1 / candidates per query,
            ``rge.report.run_tables.chance_levels``): a "chance" row under ours; None: none.
    """
    index = index_summaries(summaries)
    paper = paper_index(paper_rows, "contrastive_pair", paper_file)
    csv_cols = [_paper_column(paper_rows, name, paper_file) for name in columns.values()]
    names = [t if t == p else f"{p} [ours: {t}]" for t, p in columns.items()]
    out: list[list[Cell]] = []
    for label, (run, mode) in rows.items():
        s = pick(index, (run, mode), "score_mmeb summary")
        missing = [t for t in columns if t not in s["tasks"]]
        if missing:
            raise KeyError(f"score summary {_label(run, mode)}: no task(s) {missing}")
        out.append([SOURCE_OURS, label, _label(run, mode),
                    *[percent(s["tasks"][t]["acc"]) for t in columns]])  # fmt: skip
        if label in paper:
            out.append(_paper_row(SOURCE_PAPER, label, paper[label], csv_cols))
    if chance is not None:
        out.append([SOURCE_CHANCE, "chance (1 / candidates)", None,
                    *[percent(chance.get(t)) for t in columns]])  # fmt: skip
    out += _reference_rows(paper, rows, csv_cols)
    return Table(
        title="Table 1: information leakage, small-scale training on image-text pairs",
        columns=["source", "contrastive pair", "run (mode)", *names],
        rows=out,
        header=header(study, [_label(*rm) for rm in rows.values()], paper_file, _MMEB_METRIC),
        notes=[
            "q->t: no rationale; (q;r_oracle)->t: embedding from the LM forward over the oracle "
            "rationale (leaky); (q;r_self)->t: embedding after a self-generated rationale.",
            *study_notes(study),
            *run_notes([run for run, _ in rows.values()], probe, train),
        ],
    )


# ----------------------------------------------------------------------------- Table 7

BENCH_NAMES = {"flickr": "Flickr30K", "coco": "COCO"}
# paper CSV direction codes: image retrieval (text -> image) and text retrieval (image -> text)
DIRECTIONS = {"t2i": "i", "i2t": "t"}
KS = (1, 5, 10)
COMBOS = (("direct", "direct"), ("reasoning", "direct"), ("direct", "reasoning"),
          ("reasoning", "reasoning"))  # fmt: skip
UNKNOWN = "UNKNOWN"


def _yes_no(mode: str) -> str:
    return "yes" if mode == "reasoning" else "no"


def index_retrieval(scores: Sequence[dict]) -> dict[tuple[str, str, str, str], dict]:
    """``score_retrieval`` scores by (run, bench, query_mode, target_mode); duplicates raise."""
    out: dict[tuple[str, str, str, str], dict] = {}
    for i, s in enumerate(scores):
        missing = [k for k in ("run", "bench", "query_mode", "target_mode", "t2i", "i2t")
                   if k not in s]  # fmt: skip
        if missing:
            raise ValueError(f"retrieval score {i}: lacks {missing}")
        key = (s["run"], s["bench"], s["query_mode"], s["target_mode"])
        if key in out:
            raise ValueError(f"retrieval score {i}: {key} given twice")
        out[key] = s
    return out


def _recall(score: dict, direction: str, k: int) -> float:
    rec = score[direction]
    if f"R@{k}" not in rec:
        raise KeyError(f"retrieval score {score['run']}/{score['bench']}: no {direction} R@{k}")
    return 100.0 * float(rec[f"R@{k}"])


def table7(
    study: str,
    baseline_run: str,
    rge_run: str,
    benches: Mapping[str, str],
    scores: Sequence[dict],
    paper_rows: Sequence[dict[str, str]],
    probe: dict | None,
    train: Mapping[str, dict],
    paper_file: str = "table07_flickr_coco.csv",
    eval_only_modes: Mapping[str, Sequence[str]] | None = None,
) -> Table:
    """Paper Table 7: Flickr30K / COCO R@1/5/10 in both directions.

    Rows of ours: the baseline (direct on both sides) and the RGE run under the four
    combinations of reasoning on the query and/or target side, labelled explicitly. A paper row
    is paired with ours only when its model and reasoning sides are known and equal; its RGE
    rows (reasoning sides ``UNKNOWN``) are printed as numbered reference rows, never paired.

    Args:
        study: the config's study name.
        baseline_run, rge_run: run names.
        benches: {our bench: paper bench (``flickr`` | ``coco``)}.
        scores: ``score_retrieval`` scores covering every needed (run, bench, modes).
        paper_rows: rows of table07_flickr_coco.csv.
        probe, train: as ``meta_table``.
        paper_file: the paper CSV's file name.
        eval_only_modes: {eval-only run: its modes}: one row per mode, query and target in
            that mode, labelled eval-only (no training summary; never paired with a paper row).
    """
    eval_only_modes = dict(eval_only_modes or {})
    unknown_bench = sorted(set(benches.values()) - set(BENCH_NAMES))
    if unknown_bench:
        raise ValueError(f"table7 benches: unknown paper bench(es) {unknown_bench}")
    index = index_retrieval(scores)
    ours_by_paper = {p: o for o, p in benches.items()}
    cols = [(d, b, k) for d in DIRECTIONS for b in BENCH_NAMES for k in KS]
    names = [f"{BENCH_NAMES[b]} {d} R@{k}" for d, b, k in cols]

    def our_row(label: str, run: str, qm: str, tm: str) -> list[Cell]:
        cells: list[Cell] = []
        for d, b, k in cols:
            bench = ours_by_paper.get(b)
            key = (run, bench, qm, tm)
            s = pick(index, key, "score_retrieval score") if bench else None
            cells.append(_recall(s, d, k) if s else None)
        return [SOURCE_OURS, label, _yes_no(qm), _yes_no(tm), *cells]

    def paper_cells(r: dict[str, str]) -> list[Cell]:
        return [paper_number(r[f"{b}_{DIRECTIONS[d]}_r{k}"]) for d, b, k in cols]

    wanted = [("Baseline", baseline_run, "direct", "direct")]
    wanted += [(f"RGE (query reasoning: {_yes_no(q)}, target reasoning: {_yes_no(t)})", rge_run,
                q, t) for q, t in COMBOS]  # fmt: skip
    paired, out = set(), []
    for label, run, qm, tm in wanted:
        out.append(our_row(label, run, qm, tm))
        model = label.split(" (")[0]
        for i, r in enumerate(paper_rows):
            sides = (r["query_reasoning"] or "no", r["target_reasoning"] or "no")
            if r["model"] == model and sides == (_yes_no(qm), _yes_no(tm)):
                paired.add(i)
                out.append([SOURCE_PAPER, _paper_model(r), *sides, *paper_cells(r)])
    for run, modes in eval_only_modes.items():
        out += [our_row(f"{run} (eval-only, {m})", run, m, m) for m in modes]
    unknown = 0
    for i, r in enumerate(paper_rows):
        if i in paired:
            continue
        if UNKNOWN in (r["query_reasoning"], r["target_reasoning"]):
            unknown += 1
            label = f"{r['model']} (paper; reasoning sides unknown, row {unknown})"
            out.append([SOURCE_UNKNOWN, label, "unknown", "unknown", *paper_cells(r)])
        else:
            sides = [r["query_reasoning"] or "-", r["target_reasoning"] or "-"]
            out.append([SOURCE_REF, _paper_model(r), *sides, *paper_cells(r)])
    mapping = ", ".join(f"{BENCH_NAMES[p]} <- ours {o}" for o, p in benches.items())
    runs = [f"{baseline_run} (direct-direct)", f"{rge_run} (4 reasoning combinations)"]
    runs += [f"{r} (eval-only)" for r in eval_only_modes]
    return Table(
        title="Table 7: Flickr30K and COCO image-text retrieval",
        columns=["source", "model", "query reasoning", "target reasoning", *names],
        rows=out,
        header=header(study, runs, paper_file, "Recall@K in %; t2i = image retrieval (text "
                      f"query), i2t = text retrieval (image query). Benches: {mapping}."),
        notes=[
            "The paper's four RGE rows are the four combinations of reasoning on the query "
            "and/or target side, but its PDF lost the check marks: which row is which is "
            "unknown, so they are numbered in the paper's order and paired with none of ours. "
            "Its text says query-only reasoning (the default) is best for COCO text-to-image "
            "and that reasoning on both sides sometimes hurts text-to-image.",
            *study_notes(study),
            *[f"`{r}` is the first replicate of the seeded run `{r.split('@')[0]}`: retrieval "
              "is scored at that one seed (1 seed)." for r in (baseline_run, rge_run) if "@" in r],
            *run_notes([baseline_run, rge_run, *eval_only_modes], probe, train, eval_only_modes),
        ],
    )  # fmt: skip


def _paper_model(row: dict[str, str]) -> str:
    backbone = row.get("backbone", "-")
    return row["model"] if backbone in ("", "-") else f"{row['model']} ({backbone})"


# ----------------------------------------------------------------------------- stage helpers


def parse_rows(rows: Mapping[str, Sequence[str]], where: str = "cfg rows") -> dict[str, RunMode]:
    """{label: [run, mode]} from a config into {label: (run, mode)}, checked."""
    if not rows:
        raise ValueError(f"{where}: no rows given")
    out: dict[str, RunMode] = {}
    for label, value in rows.items():
        if not isinstance(value, list | tuple) or len(value) != 2:
            raise ValueError(f"{where}[{label!r}]: expected [run, mode], got {value!r}")
        out[label] = (str(value[0]), str(value[1]))
    return out


def read_run_inputs(
    summaries: Sequence[str | os.PathLike],
    train_summaries: Sequence[str | os.PathLike],
    probe: str | os.PathLike,
) -> tuple[list[dict], dict[str, dict], dict]:
    """The score summaries (or scores), training summaries by run (a seeded run's from its
    pooled file), and the backbone report."""
    scores = [read_json(p) for p in summaries]
    # a seeded run's training facts come with its pooled scores (pool_seeds), by base run
    train = {**read_train_summaries(train_summaries), **pooled_train(scores)}
    return scores, train, read_json(probe)
