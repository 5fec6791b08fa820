"""Paper Table 7 (Flickr30K / COCO image-text retrieval) with our runs and the paper's numbers.

Rows of ours: the baseline run (direct on both sides) and the RGE run under the four
combinations of reasoning on the query and/or target side, labelled explicitly; R@1/5/10 for
text-to-image (the paper's "image retrieval") and image-to-text ("text retrieval") on each
bench. The paper's baseline row is paired with ours; its four RGE rows lost their check marks
(UNKNOWN in the CSV), so they are printed as "RGE (paper; reasoning sides unknown, row k)" and
never paired. The notes give each run's backbone probe and final training InfoNCE vs ln(B).

Config keys (cfg slice, as ``rge.config.ReportView``; the schema requires each):
    study (str): the config's study name, printed in the header.
    baseline_run (str): scored with query_mode = target_mode = direct.
    rge_run (str): scored under all four query/target mode combinations.
    eval_only_modes (dict, default {}): {eval-only run: its modes}: one row per mode, query and
        target in that mode, labelled eval-only.
    benches (dict): {our bench: paper bench ("flickr" | "coco")}, e.g.
        {"SynFlickr": "flickr", "SynCOCO": "coco"}.

Inputs:
    score: ``score_retrieval`` scores (data/score_retrieval/{run}/{bench}/{qmode}-{tmode}.json)
        of baseline_run direct-direct and rge_run's four combinations on every bench in
        ``benches`` (repeat the name).
    train_summary: ``train_run`` summaries (data/train_run/{run}/summary.json) of both runs
        (repeat the name).
    probe: the backbone report (data/pretrain_backbone/probe.json).
    paper: config/paper_numbers/table07_flickr_coco.csv.
Outputs:
    md, csv, tex: the table as markdown, CSV and LaTeX.
"""

from __future__ import annotations

from pathlib import Path

from rge.config import ReportView
from rge.report.mmeb_tables import read_csv
from rge.report.paper_tables import read_run_inputs, table7
from rge.stages._cli import Paths, as_list, stage_main, write_table_outputs

PAPER_COLUMNS = ["model", "backbone", "query_reasoning", "target_reasoning"]


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Render Table 7 to md, csv and tex."""
    scores, train, probe = read_run_inputs(
        as_list(inputs.score), as_list(inputs.train_summary), inputs.probe
    )
    view = ReportView.from_slice(cfg)
    if not view.benches:
        raise KeyError("table7: cfg needs 'benches' ({our bench: 'flickr' | 'coco'})")
    if view.baseline_run is None or view.rge_run is None:
        raise KeyError("table7: cfg needs 'baseline_run' and 'rge_run'")
    table = table7(
        view.study, view.baseline_run, view.rge_run, dict(view.benches), scores,
        read_csv(inputs.paper, PAPER_COLUMNS), probe, train, Path(inputs.paper).name,
        {run: list(modes) for run, modes in view.eval_only_modes.items()},
    )  # fmt: skip
    return write_table_outputs(table, outputs)


def main(argv: list[str] | None = None):
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
