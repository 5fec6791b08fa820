"""Paper Table 1 (information leakage, small scale) with our runs and the paper's numbers.

Rows: the three contrastive pairs (q->t, (q;r_oracle)->t, (q;r_self)->t), each a (run, mode)
of ours followed by the paper's row of the same label; columns: the four image-text tasks
(paper: VisualNews and MSCOCO, t2i and i2t), ours mapped to the paper's by the config. The
notes give each run's backbone probe and final training InfoNCE vs ln(batch size).

Config keys (cfg slice):
    study (str): the config's study name, printed in the header.
    rows (dict): {label: [run, mode]} in display order; labels as the paper CSV's
        ``contrastive_pair`` ("q->t", "(q;r_oracle)->t", "(q;r_self)->t") get its row.
    columns (dict): {our task: paper task} in display order, e.g. {"SynNews_t2i":
        "VisualNews_t2i", "SynNews_i2t": "VisualNews_i2t", "SynCOCO_t2i": "MSCOCO_t2i",
        "SynCOCO_i2t": "MSCOCO_i2t"}; paper tasks match the CSV's columns up to case.

Inputs:
    summary: ``score_mmeb`` summaries of every (run, mode) in ``rows`` (repeat the name).
    train_summary: ``train_run`` summaries (data/train_run/{run}/summary.json) of every run in
        ``rows`` (repeat the name).
    probe: the backbone report (data/pretrain_backbone/probe.json).
    paper: config/paper_numbers/table01_leakage_small.csv.
Outputs:
    md, csv, tex: the table as markdown, CSV and LaTeX.
"""

from __future__ import annotations

from pathlib import Path

from rge.report.mmeb_tables import read_csv
from rge.report.paper_tables import parse_rows, read_run_inputs, table1
from rge.report.tables import write_table
from rge.stages._cli import Paths, stage_main
from rge.stages.score_mmeb import as_list


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Render Table 1 to md, csv and tex."""
    summaries, train, probe = read_run_inputs(
        as_list(inputs.summary), as_list(inputs.train_summary), inputs.probe
    )
    if not cfg.get("columns"):
        raise KeyError("table1: cfg needs 'columns' ({our task: paper task})")
    table = table1(
        cfg["study"], parse_rows(cfg.get("rows"), "table1 cfg rows"), cfg["columns"], summaries,
        read_csv(inputs.paper, ["contrastive_pair"]), probe, train, Path(inputs.paper).name,
    )  # fmt: skip
    write_table(table, md=outputs.md, csv_path=outputs.csv, tex=outputs.tex)
    return {"rows": len(table.rows)}


def main(argv: list[str] | None = None):
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
