"""One per-run paper table (Tables 1, 3, 4, 6) built from the files its rule is given.

Tables 1 (paper §3.5), 3, 4 and 6 (§4.3) share their inputs: one ``score_mmeb`` summary per
(run, mode) of the table's rows, the ``train_run`` summary of every run in them (their final
InfoNCE goes into the notes), the backbone report (probe accuracy, also in the notes) and the
paper's transcribed CSV (``config/paper_numbers/table0<N>_*.csv``).

The rules of these tables name their files alike:
Inputs:
    summary: ``score_mmeb`` summaries of every (run, mode) in ``rows`` (repeat the name).
    train_summary: ``train_run`` summaries (data/train_run/{run}/summary.json) of every run in
        ``rows`` (repeat the name).
    probe: the backbone report (data/pretrain_backbone/probe.json).
    evaluation (Table 1; optional): the rows' ``embed_eval`` folders (chance level per task).
    rationale_probe (Tables 3, 4, 6; optional): ``rationale_probe/{run}/reasoning.json`` of
        the rows' reasoning-mode runs (repeat the name; absent for hub benchmarks).
    paper: the paper's transcribed table, config/paper_numbers/table0<N>_*.csv.
Outputs:
    md, csv, tex: the table as markdown, CSV and LaTeX.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from rge.io import read_json, read_jsonl
from rge.report.mmeb_tables import read_csv
from rge.report.paper_tables import parse_rows, rationale_right, read_run_inputs
from rge.report.tables import Table

# build(study, rows, summaries, paper_rows, probe, train, paper_file) -> Table; the table1 ...
# table6 functions of rge.report.paper_tables
Builder = Callable[..., Table]


def build_run_table(
    name: str,
    build: Builder,
    paper_columns: Sequence[str],
    study: str,
    rows: Mapping[str, Sequence[str]],
    *,
    summaries: Sequence[str | os.PathLike],
    train_summaries: Sequence[str | os.PathLike],
    probe: str | os.PathLike,
    paper: str | os.PathLike,
    label_templates: Mapping[str, str] | None = None,
    rationale_probes: Sequence[str | os.PathLike] | None = None,
    evaluations: Sequence[str | os.PathLike] | None = None,
) -> Table:
    """Read a per-run table's input files and build it with ``build``.

    Args:
        name: the table's name (``table1`` ...), used in error messages.
        build: the table function (e.g. ``rge.report.paper_tables.table3``).
        paper_columns: columns the paper CSV must have (checked when it is read).
        study: the config's study name, printed in the header.
        rows: {label: (run, mode)} in display order (non-empty; the table's
            ``rge.config.ReportView.rows``).
        label_templates: {label: template} (``rge.config.ReportView.label_templates``): such a
            row's label is the template filled from its run's training summary ``settings``,
            e.g. ``"{alpha_lm:g}:{alpha_con:g}"`` -> "1:40".
        summaries: ``score_mmeb`` summary JSONs of every (run, mode) in ``rows``.
        train_summaries: ``train_run`` summary JSONs of every run in ``rows``.
        probe: the backbone report JSON (``pretrain_backbone`` output).
        paper: the paper's CSV; its file name is printed in the table's notes.
        rationale_probes: ``rationale_probe`` outputs of the rows' runs (Tables 3, 4, 6: None
            leaves the builder's ``rationale`` keyword out, as Table 1 takes none).
        evaluations: ``embed_eval`` folders of the rows (Table 1): their predictions give each
            task's chance level (``chance_levels``); None leaves ``chance`` out.

    Returns:
        The table (rows of ours, each followed by the paper's row of the same label).

    Raises:
        ValueError: ``rows`` is empty or malformed, or the paper CSV lacks a column.
        OSError: an input file cannot be read.
    """
    scores, train, probe_report = read_run_inputs(summaries, train_summaries, probe)
    rows = parse_rows(rows, f"{name} cfg rows")
    rows = trained_labels(rows, label_templates or {}, train, name)
    extra = {}
    if rationale_probes is not None:
        extra["rationale"] = rationale_right([read_json(p) for p in rationale_probes])
    if evaluations is not None:
        extra["chance"] = chance_levels(evaluations)
    return build(
        study, rows, scores,
        read_csv(paper, list(paper_columns)), probe_report, train, Path(paper).name, **extra,
    )  # fmt: skip


def trained_labels(
    rows: Mapping[str, tuple[str, str]],
    templates: Mapping[str, str],
    train: Mapping[str, Mapping],
    name: str = "table",
) -> dict[str, tuple[str, str]]:
    """``rows`` with each templated label filled from its run's training summary.

    Args:
        rows: {label: (run, mode)} in display order.
        templates: {label: template} for the rows whose label names run settings.
        train: ``train_run`` summaries by run; their ``settings`` fill the templates.
        name: the table, for error messages.

    Returns:
        {label: (run, mode)}, same order; a label shows what the run was trained with.

    Raises:
        ValueError: a templated row's run has no training summary or its ``settings`` lack a
            key the template names, or two rows end up with one label.
    """
    out: dict[str, tuple[str, str]] = {}
    for label, (run, mode) in rows.items():
        if label in templates:
            settings = (train.get(run) or {}).get("settings")
            if settings is None:
                raise ValueError(f"{name}: row {label!r}: run {run!r}'s training summary has "
                                 "no settings to label it with")  # fmt: skip
            try:
                label = templates[label].format_map(settings)
            except (KeyError, ValueError, IndexError) as err:
                raise ValueError(f"{name}: row label {templates[label]!r} of run {run!r}: "
                                 f"{err!r} not in its training settings") from err  # fmt: skip
        if label in out:
            raise ValueError(f"{name}: two rows labelled {label!r}")
        out[label] = (run, mode)
    return out


def chance_levels(folders: Sequence[str | os.PathLike]) -> dict[str, float]:
    """{task: chance P@1}: the mean over a task's queries of 1 / num_candidates, read from the
    ``{task}.predictions.jsonl`` of ``embed_eval`` folders (the first folder with the task).

    Raises:
        ValueError: a predictions row without a positive ``num_candidates`` (names file, row).
    """
    out: dict[str, float] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*.predictions.jsonl")):
            task = path.name.removesuffix(".predictions.jsonl")
            if task in out:
                continue
            rows = read_jsonl(path)
            for i, row in enumerate(rows):
                if not isinstance(row.get("num_candidates"), int) or row["num_candidates"] < 1:
                    raise ValueError(f"{path}: row {i} has no positive num_candidates")
            if rows:
                out[task] = sum(1.0 / r["num_candidates"] for r in rows) / len(rows)
    return out
