"""Paper Table 1 (information leakage, small scale) with our runs and the paper's numbers.

Rows: the three contrastive pairs (q->t, (q;r_oracle)->t, (q;r_self)->t), each a (run, mode)
of ours followed by the paper's row of the same label; columns: the four image-text tasks
(paper: VisualNews and MSCOCO, t2i and i2t), ours mapped to the paper's by the config. The
notes give each run's backbone probe and final training InfoNCE vs ln(batch size).

Config keys (cfg slice, as ``rge.config.ReportView``):
    study (str): the config's study name, printed in the header.
    rows (dict): {label: [run, mode]} in display order; labels as the paper CSV's
        ``contrastive_pair`` ("q->t", "(q;r_oracle)->t", "(q;r_self)->t") get its row.
    columns (dict): {our task: paper task} in display order, e.g. {"SynNews_t2i":
        "VisualNews_t2i", "SynNews_i2t": "VisualNews_i2t", "SynCOCO_t2i": "MSCOCO_t2i",
        "SynCOCO_i2t": "MSCOCO_i2t"}; paper tasks match the CSV's columns up to case.

Inputs and outputs: as every per-run table (``rge.report.run_tables``), with
``paper`` = config/paper_numbers/table01_leakage_small.csv, and (optional) ``evaluation``: the
rows' ``embed_eval`` folders, whose predictions give each task's chance level (a "chance" row).
"""

from __future__ import annotations

from rge.config import ReportView
from rge.report.paper_tables import table1
from rge.report.run_tables import build_run_table
from rge.stages._cli import Paths, as_list, run_table_files, stage_main, write_table_outputs


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Render Table 1 to md, csv and tex."""
    view = ReportView.from_slice(cfg)
    if not view.columns:
        raise KeyError("table1: cfg needs 'columns' ({our task: paper task})")
    columns = dict(view.columns)

    def build(study, rows, *rest, **chance):
        return table1(study, rows, columns, *rest, **chance)

    table = build_run_table(
        "table1",
        build,
        ["contrastive_pair"],
        view.study,
        view.rows,
        **run_table_files(inputs),
        label_templates=view.label_templates,
        evaluations=as_list(inputs["evaluation"]) if "evaluation" in inputs else None,
    )
    return write_table_outputs(table, outputs)


def main(argv: list[str] | None = None):
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
