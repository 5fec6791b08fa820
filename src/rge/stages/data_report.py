"""The evaluation data report (issue 11): candidate-list counts per MMEB-eval task and the
coverage of the RGE release's rewrite tables (``rge.evaluate.data_report``).

Config keys (cfg slice):
    tasks (list[str]): the study's MMEB-eval tasks (one fetched folder each).
    train_subsets (list[str]): the study's MMEB-train subsets (for the coverage).
    prompt_protocol (str): "mmeb" | "rge_release".

Inputs:
    data: the fetched eval task folders (``fetch_mmeb_eval``), each named after its task.
    prompt_tables: the ``fetch_prompt_tables`` folder.
Outputs:
    json: the report (``rge.evaluate.data_report.data_report``).
    md: the same as a markdown page.
"""

from __future__ import annotations

from pathlib import Path

from rge.data.mmeb import load_eval_rows
from rge.data.protocol import load_tables
from rge.evaluate.data_report import data_report, render_markdown
from rge.io import read_json, write_json, write_text
from rge.stages._cli import Paths, as_list, stage_main


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Load every task's rows and the tables; write the report (json + md); return it."""
    by_name = {Path(d).name: Path(d) for d in as_list(inputs.data)}
    missing = [t for t in cfg["tasks"] if t not in by_name]
    if missing:
        raise ValueError(f"data_report: no fetched folder for tasks {missing}")
    rows = {t: load_eval_rows(by_name[t], t).records for t in cfg["tasks"]}
    report = data_report(
        rows,
        load_tables(inputs.prompt_tables),
        protocol=cfg["prompt_protocol"],
        train_subsets=cfg["train_subsets"],
        source=tables_source(Path(inputs.prompt_tables)),
    )
    write_json(outputs.json, report)
    write_text(outputs.md, render_markdown(report))
    return report


def tables_source(folder: Path) -> str:
    """ "<repo>@<commit>" or "mirror <dir>" from the fetch's ``source.json`` ("" without one)."""
    path = folder / "source.json"
    if not path.is_file():
        return ""
    src = read_json(path)
    return f"mirror {src['mirror']}" if src.get("mirror") else f"{src['repo']}@{src['commit']}"


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
