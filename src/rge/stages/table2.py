"""Paper Table 2 (MMEB per meta-task, IND, OOD, overall) with our runs and the paper's numbers.

Our rows come from ``score_mmeb`` summaries. A run is printed beside a paper row (``pairs``) only
when it was scored on exactly the paper's 36 MMEB tasks; otherwise every paper row is printed as
a labelled reference row and the table says that ours are not a reproduction of the paper's.

Config keys (cfg slice, as ``rge.config.ReportView``):
    study (str): the config's study name, printed in the header.
    pairs (dict; the schema's default {}): {"<run> (<mode>)": "<paper model> (<backbone>)"}, e.g.
        {"rge (reasoning)": "RGE (Qwen2.5VL-3B)"}; paper labels as in table02_mmeb_main.csv.

Inputs:
    summary: ``score_mmeb`` summary JSONs, in display order (repeat the name).
    paper: config/paper_numbers/table02_mmeb_main.csv.
    paper_tasks: config/paper_numbers/table15_mmeb_per_dataset.csv (the paper's task names).
Outputs:
    md, csv, tex: the table as markdown, CSV and LaTeX.
"""

from __future__ import annotations

from pathlib import Path

from rge.config import ReportView
from rge.io import read_json
from rge.report.mmeb_tables import T2_COLUMNS, read_csv, table2
from rge.stages._cli import as_list, stage_main, write_table_outputs


def run(cfg: dict, inputs, outputs) -> dict:
    """Render Table 2 to md, csv and tex."""
    view = ReportView.from_slice(cfg)
    summaries = [read_json(p) for p in as_list(inputs.summary)]
    paper_rows = read_csv(inputs.paper, ["model", "backbone", *T2_COLUMNS])
    paper_tasks = {r["dataset"] for r in read_csv(inputs.paper_tasks, ["dataset"])}
    table = table2(
        view.study,
        summaries,
        paper_rows,
        paper_tasks,
        pairs=dict(view.pairs),
        paper_file=Path(inputs.paper).name,
    )
    return write_table_outputs(table, outputs)


def main(argv: list[str] | None = None):
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
