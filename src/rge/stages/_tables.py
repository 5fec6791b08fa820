"""What the per-run table stages (Tables 1, 3, 4, 6) share: read, build, write md/csv/tex.

Inputs:
    summary: ``score_mmeb`` summaries of every (run, mode) in ``rows`` (repeat the name).
    train_summary: ``train_run`` summaries (data/train_run/{run}/summary.json) of every run in
        ``rows`` (repeat the name).
    probe: the backbone report (data/pretrain_backbone/probe.json).
    paper: the paper's transcribed table, config/paper_numbers/table0<N>_*.csv.
Outputs:
    md, csv, tex: the table as markdown, CSV and LaTeX.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from rge.report.mmeb_tables import read_csv
from rge.report.paper_tables import parse_rows, read_run_inputs
from rge.report.tables import Table, write_table
from rge.stages._cli import Paths, as_list

# build(study, rows, summaries, paper_rows, probe, train, paper_file) -> Table
Builder = Callable[..., Table]


def render_run_table(
    name: str, build: Builder, paper_columns: Sequence[str], cfg: dict, inputs: Paths,
    outputs: Paths,
) -> dict:  # fmt: skip
    """Build table ``name`` from the run summaries, the probe and the paper CSV; write it."""
    summaries, train, probe = read_run_inputs(
        as_list(inputs.summary), as_list(inputs.train_summary), inputs.probe
    )
    table = build(
        cfg["study"], parse_rows(cfg.get("rows"), f"{name} cfg rows"), summaries,
        read_csv(inputs.paper, list(paper_columns)), probe, train, Path(inputs.paper).name,
    )  # fmt: skip
    write_table(table, md=outputs.md, csv_path=outputs.csv, tex=outputs.tex)
    return {"rows": len(table.rows)}
