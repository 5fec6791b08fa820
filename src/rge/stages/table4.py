"""Paper Table 4 (ablation on the contrastive supervision pair) with our runs and the paper's numbers.

Per meta-task and overall MMEB scores, one row per (run, mode) of ours, each followed by the
paper's row of the same label; paper rows without a row of ours are printed as reference rows.
The notes give each run's backbone probe and final training InfoNCE vs ln(batch size).

Config keys (cfg slice, as ``rge.config.ReportView``):
    study (str): the config's study name, printed in the header.
    rows (dict): {label: [run, mode]} in display order, e.g.
        {"q->t": ["baseline", "direct"], "(q;r_self)->t": ["rge", "reasoning"]};
        labels "q->t", "(q;r_oracle)->t", "(q;r_self)->t" (the CSV's ``contrastive_pair``) get the paper's row.

Inputs and outputs: as every per-run table (``rge.report.run_tables``), with
``paper`` = config/paper_numbers/table04_contrastive_pair.csv.
"""

from __future__ import annotations

from rge.config import ReportView
from rge.report.paper_tables import META_COLUMNS, table4
from rge.report.run_tables import build_run_table
from rge.stages._cli import Paths, as_list, run_table_files, stage_main, write_table_outputs


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Render Table 4 to md, csv and tex."""
    columns = ("contrastive_pair", *META_COLUMNS)
    view = ReportView.from_slice(cfg)
    table = build_run_table(
        "table4",
        table4,
        columns,
        view.study,
        view.rows,
        **run_table_files(inputs),
        rationale_probes=as_list(inputs["rationale_probe"]) if "rationale_probe" in inputs else [],
        label_templates=view.label_templates,
    )
    return write_table_outputs(table, outputs)


def main(argv: list[str] | None = None):
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
