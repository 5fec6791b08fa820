"""Paper Table 15 (MMEB per dataset, then aggregates) with our runs and the paper's numbers.

One column per run (from ``score_mmeb`` summaries) and one per selected paper model. A task of
ours gets the paper's numbers in its row only when its name is an MMEB dataset name; paper
datasets we did not score are printed as labelled reference rows; the paper's aggregates are
paired with ours only when we scored exactly its 36 tasks.

Config keys (cfg slice, as ``rge.config.ReportView``):
    study (str): the config's study name, printed in the header.
    paper_columns (list[str], default all): paper models to show, as named in the CSV header,
        e.g. ["Baseline (Qwen2.5-VL-3B)", "RGE (Qwen2.5-VL-3B)"].

Inputs:
    summary: ``score_mmeb`` summary JSONs, one column each, in order (repeat the name).
    paper_tasks: config/paper_numbers/table15_mmeb_per_dataset.csv.
    paper_summary: config/paper_numbers/table15_mmeb_summary.csv.
Outputs:
    md, csv, tex: the table as markdown, CSV and LaTeX.
"""

from __future__ import annotations

from pathlib import Path

from rge.config import ReportView
from rge.io import read_json
from rge.report.mmeb_tables import read_csv, table15
from rge.stages._cli import as_list, stage_main, write_table_outputs


def run(cfg: dict, inputs, outputs) -> dict:
    """Render Table 15 to md, csv and tex."""
    view = ReportView.from_slice(cfg)
    summaries = [read_json(p) for p in as_list(inputs.summary)]
    paper_tasks = read_csv(inputs.paper_tasks, ["meta_task", "dataset", "split"])
    paper_summary = read_csv(inputs.paper_summary, ["row"])
    table = table15(
        view.study,
        summaries,
        paper_tasks,
        paper_summary,
        paper_columns=None if view.paper_columns is None else list(view.paper_columns),
        paper_files=[Path(inputs.paper_tasks).name, Path(inputs.paper_summary).name],
    )
    return write_table_outputs(table, outputs)


def main(argv: list[str] | None = None):
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
