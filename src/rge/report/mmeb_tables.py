"""Paper Tables 2 (MMEB summary) and 15 (MMEB per dataset), our runs beside the paper's numbers.

Inputs are ``score_mmeb`` summaries (fractions; printed here as percentages) and the paper's
transcribed CSVs (already percentages). Pairing rules, so that nothing is compared that is not
comparable:

* a task of ours is paired with a paper dataset only when the names are identical;
* our aggregates (per meta-task, IND, OOD, overall) are paired with the paper's only when our
  task set equals the paper's 36 MMEB datasets (otherwise they average different tasks);
* paper rows with nothing to pair are still shown, labelled as reference rows.

Scores are ``acc``, Precision@1 under the release's rule (``rge.evaluate.metrics``). A note
names every task whose strict-rule score (``acc_strict``, ties against the ground truth)
differs from it by more than ``TIE_GAP_POINTS``: a degenerate or collapsed embedding, or
candidate lists that repeat the ground truth, show up there. The header names the prompt
protocol of each run (``prompt_protocol`` in the summary; "not recorded" if absent).
"""

from __future__ import annotations

import csv
import os
from collections.abc import Sequence

from rge.evaluate.metrics import META_TASKS
from rge.report.seeds import is_pooled, score_cell, seeds_marker
from rge.report.tables import Cell, Table, paper_number

PAPER = "RGE, Liu et al., arXiv 2511.16150"
# our meta-task keys -> the labels of the paper's Table 15 / Table 2 CSVs
T15_META = {
    "classification": "Classification",
    "vqa": "VQA",
    "retrieval": "Retrieval",
    "grounding": "Visual Grounding",
}
T15_SUMMARY = {
    "classification": "All Classification",
    "vqa": "All VQA",
    "retrieval": "All Retrieval",
    "grounding": "All Visual Grounding",
    "IND": "Avg. IND Scores",
    "OOD": "Avg. OOD Scores",
    "overall": "Avg. Scores",
}
T2_COLUMNS = ("classification", "vqa", "retrieval", "grounding", "ind", "ood", "overall")
SOURCE_OURS = "ours"
SOURCE_PAIRED = "paper (same tasks)"
SOURCE_REF = "paper (reference only: not paired with ours)"
# Table 15's aggregate rows when the task sets differ: ours and the paper's side by side.
AGGREGATE_OTHER = "aggregate: ours | paper (OTHER tasks: not comparable)"
TIE_GAP_POINTS = 0.5  # |acc - acc_strict| in points above which a task is named in a note


def read_csv(path: str | os.PathLike, required: Sequence[str]) -> list[dict[str, str]]:
    """Rows of a paper CSV as dicts; a missing column raises naming the file."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    missing = [c for c in required if rows and c not in rows[0]]
    if not rows or missing:
        raise ValueError(f"{path}: empty or missing columns {missing}")
    return rows


def run_label(summary: dict) -> str:
    """Column/row label of one of our score summaries: ``run (mode)``, and ``, eval-only``
    for a checkpoint evaluated without training (``eval_only`` in the summary)."""
    eval_only = ", eval-only" if summary.get("eval_only") else ""
    return f"{summary['run']} ({summary['mode']}{eval_only})"


def shown_label(summary: dict, summaries: Sequence[dict]) -> str:
    """``run_label`` with how many seeds it stands for (``mean ± sd (n=3)`` / ``1 seed``) when
    some run of the table is pooled over seeds (``rge.report.seeds``)."""
    if not any(is_pooled(s) for s in summaries):
        return run_label(summary)
    marker = seeds_marker(summary)
    return run_label(summary) + (f", {marker}" if marker else "")


def _check_summary(summary: dict, where: str) -> None:
    for key in ("run", "mode", "tasks", "meta_task", "IND", "OOD", "overall"):
        if key not in summary:
            raise ValueError(f"{where}: score summary lacks {key!r}")


def _header(study: str, summaries: Sequence[dict], paper_files: Sequence[str]) -> list[str]:
    runs = ", ".join(run_label(s) for s in summaries)
    protocols = ", ".join(
        f"{run_label(s)}: {s.get('prompt_protocol') or 'not recorded'}" for s in summaries
    )
    return [
        f"Config (study): `{study}`; runs: {runs}",
        f"Prompt protocol: {protocols}",
        f"Paper numbers: {PAPER}, from config/paper_numbers/ ({', '.join(paper_files)})",
        "Precision@1 in % under the release's rule (a candidate identical to the ground truth "
        "is the ground truth, then argmax); overall = unweighted mean over tasks.",
    ]


def tie_rule_gaps(summaries: Sequence[dict], points: float = TIE_GAP_POINTS) -> list[str]:
    """``"run (mode) task: acc X vs strict Y"`` for every task where the two rules differ.

    Args:
        summaries: ``score_mmeb`` outputs; task records without ``acc_strict`` are skipped.
        points: the threshold in percentage points (strictly greater is named).

    Returns:
        One string per (run, task) in summary order, then task name order.
    """
    out = []
    for s in summaries:
        for task, rec in sorted(s["tasks"].items()):
            strict = rec.get("acc_strict")
            if strict is not None and 100.0 * abs(rec["acc"] - strict) > points:
                out.append(
                    f"{run_label(s)} {task}: acc {100 * rec['acc']:.1f} vs strict {100 * strict:.1f}"
                )
    return out


def _tie_note(summaries: Sequence[dict]) -> str:
    if not any("acc_strict" in r for s in summaries for r in s["tasks"].values()):
        return "Strict-rule scores (acc_strict) were not recorded for these runs."
    gaps = tie_rule_gaps(summaries)
    head = (
        f"Tasks where the strict tie rule (ties against the ground truth) differs from acc by "
        f"more than {TIE_GAP_POINTS} points (a degenerate embedding or repeated candidates): "
    )
    return head + ("; ".join(gaps) if gaps else "none") + "."


def comparable(summaries: Sequence[dict], paper_tasks: set[str]) -> bool:
    """True when every summary scores exactly the paper's task set."""
    return all(set(s["tasks"]) == paper_tasks for s in summaries)


def _notes(is_comparable: bool, study: str, n_matched: int) -> list[str]:
    if is_comparable:
        return [
            "Our rows and the paired paper rows are scored on the same MMEB tasks; "
            "differences are differences of this reproduction."
        ]
    return [
        f"NOT a reproduction of the paper's numbers: the `{study}` runs are scored on a "
        f"different task set ({n_matched} task names shared with MMEB), so our aggregates "
        "average other tasks than the paper's.",
        "Rows labelled 'paper (reference only ...)' are printed for orientation; "
        "no pairing with our rows is implied.",
    ]


def table2(
    study: str,
    summaries: Sequence[dict],
    paper_rows: Sequence[dict[str, str]],
    paper_tasks: set[str],
    pairs: dict[str, str] | None = None,
    paper_file: str = "table02_mmeb_main.csv",
) -> Table:
    """Paper Table 2 layout: one row per run, paper rows beside (or below, as reference).

    Args:
        study: the config's ``study`` name, printed in the header.
        summaries: ``score_mmeb`` outputs, in display order.
        paper_rows: rows of the paper's Table 2 CSV (columns ``model, backbone`` + T2_COLUMNS).
        paper_tasks: the paper's dataset names (Table 15), to decide comparability.
        pairs: {run label ``run (mode)``: paper label ``model (backbone)``}; used only when
            comparable.
        paper_file: file name printed in the header.
    """
    for i, s in enumerate(summaries):
        _check_summary(s, f"summary {i}")
    is_comp = comparable(summaries, paper_tasks)
    paper = {_paper_label(r): r for r in paper_rows}
    for ours, theirs in (pairs or {}).items():
        if theirs not in paper:
            raise ValueError(f"pair {ours!r} -> {theirs!r}: no such row in {paper_file}")
    columns = ["source", "model", *META_TASKS, "IND", "OOD", "overall"]
    rows: list[list[Cell]] = []
    used: set[str] = set()
    paths = {"ind": ("IND",), "ood": ("OOD",), "overall": ("overall",)}
    for s in summaries:
        cells = [score_cell(s, *paths.get(c, ("meta_task", c))) for c in T2_COLUMNS]
        rows.append([SOURCE_OURS, shown_label(s, summaries), *cells])
        theirs = (pairs or {}).get(run_label(s))
        if is_comp and theirs:
            used.add(theirs)
            rows.append(
                [SOURCE_PAIRED, theirs, *[paper_number(paper[theirs][c]) for c in T2_COLUMNS]]
            )
    for label, r in paper.items():
        if label not in used:
            rows.append([SOURCE_REF, label, *[paper_number(r[c]) for c in T2_COLUMNS]])
    n_shared = len(set().union(*(set(s["tasks"]) for s in summaries)) & paper_tasks)
    return Table(
        title="Table 2: MMEB per meta-task and average scores",
        columns=columns,
        rows=rows,
        header=_header(study, summaries, [paper_file]),
        notes=[*_notes(is_comp, study, n_shared), _tie_note(summaries)],
    )


def _paper_label(row: dict[str, str]) -> str:
    backbone = row.get("backbone", "-")
    return row["model"] if backbone in ("", "-") else f"{row['model']} ({backbone})"


def _task_order(summaries: Sequence[dict], paper_order: dict[str, int]) -> list[tuple[str, dict]]:
    """Our tasks (union over runs) sorted by meta-task, IND before OOD, then paper order/name."""
    tasks: dict[str, dict] = {}
    for s in summaries:
        for name, rec in s["tasks"].items():
            prev = tasks.setdefault(name, rec)
            if (prev["meta_task"], prev["split"]) != (rec["meta_task"], rec["split"]):
                raise ValueError(f"task {name!r}: meta_task/split differ between runs")

    def order(item: tuple[str, dict]) -> tuple:
        name, rec = item
        return (
            META_TASKS.index(rec["meta_task"]),
            rec["split"] != "IND",
            paper_order.get(name, len(paper_order)),
            name,
        )

    return sorted(tasks.items(), key=order)


def table15(
    study: str,
    summaries: Sequence[dict],
    paper_tasks: Sequence[dict[str, str]],
    paper_summary: Sequence[dict[str, str]],
    paper_columns: Sequence[str] | None = None,
    paper_files: Sequence[str] = ("table15_mmeb_per_dataset.csv", "table15_mmeb_summary.csv"),
) -> Table:
    """Paper Table 15 layout: per-dataset rows, then aggregates; paper columns beside ours.

    Args:
        study: the config's ``study`` name.
        summaries: ``score_mmeb`` outputs (one column each).
        paper_tasks: rows of the per-dataset CSV (``meta_task, dataset, split`` + model columns).
        paper_summary: rows of the summary CSV (``row`` + model columns).
        paper_columns: which paper models to show (default: all of the CSV's).
        paper_files: file names printed in the header.
    """
    for i, s in enumerate(summaries):
        _check_summary(s, f"summary {i}")
    models = list(
        paper_columns or [c for c in paper_tasks[0] if c not in ("meta_task", "dataset", "split")]
    )
    for m in models:
        if m not in paper_tasks[0] or m not in paper_summary[0]:
            raise ValueError(f"paper column {m!r} not in {list(paper_files)}")
    paper = {r["dataset"]: r for r in paper_tasks}
    is_comp = comparable(summaries, set(paper))
    ours = _task_order(summaries, {name: i for i, name in enumerate(paper)})
    columns = ["source", "meta_task", "task", "split"]
    columns += [shown_label(s, summaries) for s in summaries]
    columns += [f"paper: {m}" for m in models]
    rows: list[list[Cell]] = []
    for name, rec in ours:
        theirs = paper.get(name)
        source = "ours | paper (same task)" if theirs else SOURCE_OURS
        accs = [score_cell(s, "tasks", name, "acc") for s in summaries]
        ref = [paper_number(theirs[m]) if theirs else None for m in models]
        rows.append([source, T15_META[rec["meta_task"]], name, rec["split"], *accs, *ref])
    n_shared = len(set(dict(ours)) & set(paper))
    # With no task in common (the synthetic benchmark) the paper's per-dataset rows would be
    # screens of empty cells beside ours: the notes name the CSV that holds them instead.
    for name, r in paper.items() if n_shared else ():
        if name not in dict(ours):
            blank = [None] * len(summaries)
            rows.append(
                [
                    SOURCE_REF,
                    r["meta_task"],
                    name,
                    r["split"],
                    *blank,
                    *[paper_number(r[m]) for m in models],
                ]
            )
    rows += _aggregate_rows(summaries, paper_summary, models, is_comp)
    notes = _notes(is_comp, study, n_shared)
    if not n_shared:
        notes.append(f"The paper's per-dataset numbers are in {paper_files[0]}: none of its "
                     "tasks is one of ours, so they are not repeated row by row here.")  # fmt: skip
    notes.append(_tie_note(summaries))
    return Table(
        title="Table 15: MMEB per dataset",
        columns=columns,
        rows=rows,
        header=_header(study, summaries, paper_files),
        notes=notes,
    )


def _aggregate_rows(
    summaries: Sequence[dict],
    paper_summary: Sequence[dict[str, str]],
    models: list[str],
    is_comp: bool,
) -> list[list[Cell]]:
    paper = {r["row"]: r for r in paper_summary}
    missing = [label for label in T15_SUMMARY.values() if label not in paper]
    if missing:
        raise ValueError(f"paper summary CSV lacks rows {missing}")
    rows: list[list[Cell]] = []
    for key, label in T15_SUMMARY.items():
        path = ("meta_task", key) if key in META_TASKS else (key,)
        ours = [score_cell(s, *path) for s in summaries]
        # Side by side in one row either way (no half-empty rows); the source says whether the
        # two averages are over the same tasks.
        theirs = [paper_number(paper[label][m]) for m in models]
        source = "aggregate: ours | paper (same tasks)" if is_comp else AGGREGATE_OTHER
        rows.append([source, "", label, "", *ours, *theirs])
    return rows
