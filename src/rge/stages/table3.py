"""Paper Table 3 (ablation on the loss balance alpha_lm:alpha_con) with our runs and the paper's numbers.

Per meta-task and overall MMEB scores, one row per (run, mode) of ours, each followed by the
paper's row of the same label; paper rows without a row of ours are printed as reference rows.
The notes give each run's backbone probe and final training InfoNCE vs ln(batch size).

Config keys (cfg slice):
    study (str): the config's study name, printed in the header.
    rows (dict): {label: [run, mode]} in display order, e.g.
        {"1:10": ["rge", "reasoning"], "0 (no LM loss)": ["baseline", "direct"]};
        labels "100:1", "20:1", "10:1", "0 (no LM loss)", "1:1", "1:10", "1:20", "1:100" (the CSV's
        ``alpha_lm_to_alpha_con``) get the paper's row.

Inputs:
    summary: ``score_mmeb`` summaries of every (run, mode) in ``rows`` (repeat the name).
    train_summary: ``train_run`` summaries (data/train_run/{run}/summary.json) of every run in
        ``rows`` (repeat the name).
    probe: the backbone report (data/pretrain_backbone/probe.json).
    paper: config/paper_numbers/table03_loss_balance.csv.
Outputs:
    md, csv, tex: the table as markdown, CSV and LaTeX.
"""

from __future__ import annotations

from pathlib import Path

from rge.report.mmeb_tables import read_csv
from rge.report.paper_tables import META_COLUMNS, parse_rows, read_run_inputs, table3
from rge.report.tables import write_table
from rge.stages._cli import Paths, stage_main
from rge.stages.score_mmeb import as_list


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Render Table 3 to md, csv and tex."""
    summaries, train, probe = read_run_inputs(
        as_list(inputs.summary), as_list(inputs.train_summary), inputs.probe
    )
    table = table3(
        cfg["study"], parse_rows(cfg.get("rows"), "table3 cfg rows"), summaries,
        read_csv(inputs.paper, ["alpha_lm_to_alpha_con", *META_COLUMNS]), probe, train, Path(inputs.paper).name,
    )  # fmt: skip
    write_table(table, md=outputs.md, csv_path=outputs.csv, tex=outputs.tex)
    return {"rows": len(table.rows)}


def main(argv: list[str] | None = None):
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
