"""The study report: one self-contained HTML page (images inline, no network) to read the study by.

Sections: a header (study, date, git commit, and the line saying these are not the paper's
numbers), the claims (what the study shows, judged by criteria fixed before the run), every
rendered table given, Figure 4, per-run diagnostics (backbone probe accuracy and
final training InfoNCE against ln(batch) / ln(candidates): "cannot see" vs "shortcut"), training
curves per run (total, LM and contrastive loss vs step, cold start included), rationale statistics
per run and meta-task (reasoning-mode scores), the rationale probe per run, and worked examples
per meta-task (query, the RGE run's rationale, baseline vs RGE top-1 candidate, ground truth). A section whose inputs are
missing is listed in the header as left out (``rge.report.page.build_page`` assembles it).

Config keys (cfg slice, as ``rge.config.PageView``, whose defaults are given here):
    study (str): the config's study name.
    runs (dict, default {}): {run: {label (str, default the name), ...}} (other keys are
        ignored, so the config's ``runs`` registry can be passed as it is); labels name runs in
        the page, the order orders its rows; unlisted runs (e.g. cold_start) follow by name.
    baseline_run (str, default "baseline"), baseline_mode (str, default "direct"): the
        evaluation shown as "baseline" in the examples.
    rge_run (str, default "rge"), rge_mode (str, default "reasoning"): the evaluation shown as
        "RGE" in the examples, whose query rationales are printed.
    examples_per_task (int, default 2): examples per meta-task.
    tasks (dict, default {}): {task: meta_task} or {task: {meta_task: ..., ...}} (the config's
        ``tasks.eval``); orders the examples' tasks. A task missing here takes the meta-task
        from its score JSON.
    thumbnail_px (int, default 160): longest side of the example thumbnails.

Inputs (all optional, names repeatable so a rule can pass lists):
    claims: the ``claims`` stage's ``claims.md`` (minimum detectable effects, then verdicts)
        and ``claims.json`` (each table's header names the claims it tests and their verdicts).
    table: rendered markdown tables (``table*/…md``), shown in the order given.
    figure4: the Figure 4 image (png, jpg or svg).
    train_log: ``train_log.jsonl`` of ``train_run/{run}`` and ``cold_start``; its run is the
        ``settings.run`` of the ``summary.json`` beside it, else its folder's name.
    summary: the training ``summary.json`` files (matched to logs by folder): final_con,
        ln_batch, ln_candidates, objective, init.
    probe: ``pretrain_backbone`` probe.json (backbone perception probe).
    embed_eval: ``embed_eval`` output directories (one per run and mode), each holding
        ``{task}.json``, ``{task}.predictions.jsonl`` and ``{task}.rationales.jsonl``; all three
        kinds are read from them. The same files may instead (or also) be named one by one:
    scores: ``embed_eval`` score JSONs ``{task}.json`` (rationale statistics).
    predictions, rationales: ``{task}.predictions.jsonl`` / ``{task}.rationales.jsonl``; each is
        identified by the score JSON beside it (``{task}.json``: run, mode, task), else by its
        path ``…/{run}/{mode}/{task}.<kind>.jsonl``.
    rationale_probe: ``rationale_probe/{run}/reasoning.json`` files (synthetic studies).
    eval_task: fetched eval task folders (``fetch_mmeb_eval/{task}``: ``{task}/test-*.parquet``
        + ``eval_images/``) for the examples' queries and candidates.
Outputs:
    report: the HTML file (written atomically).
"""

from __future__ import annotations

import logging

from rge.config import PageView
from rge.io import atomic_path
from rge.report.page import build_page, git_commit
from rge.stages._cli import Paths, as_list, stage_main

log = logging.getLogger(__name__)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Assemble the page from whatever inputs were given and write it atomically."""
    view = PageView.from_slice(cfg)
    report = build_page(view, {name: as_list(v) for name, v in inputs.items()}, git_commit())
    with atomic_path(outputs.report) as tmp:
        tmp.write_text(report.html)
    log.info(
        "report: %d sections, %d bytes -> %s",
        len(report.sections), len(report.html), outputs.report,
    )  # fmt: skip
    return {"sections": report.sections, "left_out": report.left_out, "bytes": len(report.html)}


def main(argv: list[str] | None = None):
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
