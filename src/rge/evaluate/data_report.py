"""The evaluation data report: where the tie rule and the prompt protocol matter, per task.

Two facts a reader needs before trusting an MMEB number (issue 11):

- per MMEB-eval task, the rows whose candidate list repeats the ground truth (same text and
  image as candidate 0) or holds any duplicate item: on those rows the release's scoring rule
  (``acc``) and the strict one (``acc_strict``) can differ (``rge.evaluate.mmeb``); counted on
  the text as published and on the text the prompt protocol makes of it (a ``value_map`` can
  map two answers to one sentence);
- which training subsets and eval tasks have no entry in the RGE release's rewrite tables
  (``rge.data.protocol.coverage``): those get the trailing newline only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from rge.data.protocol import PromptTables, coverage, eval_rows
from rge.data.records import EvalRow
from rge.evaluate.mmeb import candidate_list_counts


def data_report(
    rows: Mapping[str, Sequence[EvalRow]],
    tables: PromptTables,
    *,
    protocol: str,
    train_subsets: Sequence[str],
    source: str = "",
) -> dict:
    """The report as a JSON-able dict.

    Args:
        rows: {MMEB-eval task: its rows as published}.
        tables: the fetched rewrite tables (coverage is reported whatever the protocol).
        protocol: the study's prompt protocol ("mmeb" | "rge_release").
        train_subsets: the study's MMEB-train subsets.
        source: where the tables came from (e.g. "MCG-NJU/RGE@<commit>"); default the folder.

    Returns:
        {"prompt_protocol", "tables_source", "candidate_list_counts": {task: {"published":
        counts, "as_evaluated": counts}}, "coverage": {side: [names without an entry]},
        "coverage_counts": {side: int}}; counts as ``candidate_list_counts``.

    Raises:
        ValueError: an unknown protocol.
    """
    counts = {
        task: {
            "published": candidate_list_counts(task_rows),
            "as_evaluated": candidate_list_counts(eval_rows(task_rows, protocol, tables)),
        }
        for task, task_rows in rows.items()
    }
    missing = coverage(tables, train=train_subsets, eval=list(rows))
    return {
        "prompt_protocol": protocol,
        "tables_source": source or tables.source,
        "candidate_list_counts": counts,
        "coverage": missing,
        "coverage_counts": {side: len(names) for side, names in missing.items()},
    }


def render_markdown(report: Mapping) -> str:
    """The report as a markdown page: one table of candidate-list counts, then the coverage."""
    lines = [
        "# Data report: candidate lists and prompt-table coverage",
        "",
        f"Prompt protocol: `{report['prompt_protocol']}`; rewrite tables: "
        f"{report['tables_source'] or 'unnamed'}.",
        "",
        "Rows whose candidate list repeats the ground truth (`gt repeated`) or holds any "
        "duplicate item: there `acc` (a copy of the ground truth counts as it) and `acc_strict` "
        "can differ. Counted on the published text and as evaluated under the protocol.",
        "",
        "| task | rows | gt repeated | with duplicates | gt repeated (as evaluated) "
        "| with duplicates (as evaluated) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for task, c in report["candidate_list_counts"].items():
        pub, ev = c["published"], c["as_evaluated"]
        lines.append(
            f"| {task} | {pub['num_rows']} | {pub['rows_gt_repeated']} | "
            f"{pub['rows_with_duplicates']} | {ev['rows_gt_repeated']} | "
            f"{ev['rows_with_duplicates']} |"
        )
    lines += ["", "## Subsets and tasks without a rewrite-table entry (newline rule only)", ""]
    for side, names in report["coverage"].items():
        lines.append(f"- {side}: {len(names)}" + (f" ({', '.join(names)})" if names else ""))
    return "\n".join(lines) + "\n"
