"""Embed and score the MMEB eval tasks of one run and embedding mode (MMEB protocol, paper §4.1).

One job per (run, mode) loads the model once and scores every task in turn
(``rge.evaluate.run.score_mmeb_tasks``). The rows are first put in the prompt protocol's text
(``rge.data.protocol.eval_rows``). Each unique query and candidate is embedded once; each
row is scored against its own candidates; Precision@1 under the release's rule (``acc``) and
with ties counted against the ground truth (``acc_strict``). In reasoning mode the query side generates a rationale before ``<emb>`` (the target side
too with ``target_mode: reasoning``, paper Table 7); the rationales are written out with their
statistics.

Config keys (cfg slice):
    run (str): the run name (written into the score).
    mode (str): "direct" | "reasoning": the embedding mode of the query side.
    target_mode (str, default "direct"): the embedding mode of the candidate side.
    max_new_tokens (int): reasoning-mode generation budget, ``<emb>`` included (paper: 128);
        required when either side reasons.
    tasks (dict): {task folder name, e.g. "OK-VQA": {meta_task: "classification" | "vqa" |
        "retrieval" | "grounding", split: "IND" | "OOD"}}.
    batch_size (int): items per forward pass.
    min_pixels, max_pixels (int): image resolution bounds for the processor.
    check_images (bool, default false): open every image header while loading (slow) or only
        check existence.
    prompt_protocol (str, default "mmeb"): "mmeb" | "rge_release" (the release's rewrites).
    generation (dict, optional): the ``generation:`` block (``rge.model.generation
        .GenerationSettings``): ``dtype`` ("float32"), ``attn_implementation`` ("sdpa";
        "auto" = flash-attention-2 when installed, else sdpa): how the model is loaded;
        ``engine``, ``decoding``, ``cap`` (recorded as the score's ``decoding``),
        ``sync_every``, ``compile``, ``length_buckets``, ``allow_sampling``: reasoning mode.
    seed (int, default 0): seeds reasoning-mode sampling, when ``allow_sampling`` permits it.
    cache_dir (str | null, default null): root of the on-disk embedding cache shared across
        tasks and reruns (keyed by model fingerprint + mode + resolution); null = memory only.
        Only direct-mode sides use it (a direct-mode side of a reasoning run shares the direct
        run's vectors); a reasoning side is cached in memory, because its rationales must be
        written out on every run and the cache keeps vectors only.

Inputs:
    model: the model directory (``save_pretrained`` layout).
    data: the fetched eval task directories (``<task>/test-*.parquet`` + ``eval_images/``), one
        per task of ``tasks``, each named after its task (repeat the name).
    prompt_tables (optional): the ``fetch_prompt_tables`` folder; required by ``rge_release``.
Outputs:
    out: a directory with, per task, the three files below.
    ``{task}.json`` = {acc, num_correct, num_pred, acc_strict, num_correct_strict, task, run,
        mode, meta_task, split, target_mode, max_new_tokens (null without reasoning),
        prompt_protocol, dtype, attn_implementation (resolved), decoding (null without
        reasoning), num_rationales,
        mean_rationale_tokens, forced_emb_rate (both null without rationales)}.
    ``{task}.predictions.jsonl``: one record per row: key, pred, correct, num_candidates, gt_score,
        best_other_score.
    ``{task}.rationales.jsonl``: one record per unique item embedded in reasoning mode: key (row key, or
        "<row key>/<candidate index>" on the target side), side, text, image, rationale,
        n_tokens, forced (``<emb>`` appended at the budget). Empty in direct mode.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from rge.evaluate.run import score_mmeb_tasks
from rge.stages._cli import Paths, as_list, stage_main


def run(cfg: dict, inputs: Paths, outputs: Paths, *, rows_loader=None, encoders=None) -> dict:
    """Score every task of ``cfg["tasks"]``; returns {task: score}. ``rows_loader`` and
    ``encoders`` (model_dir, cfg) -> encoder_for are injectable for tests."""
    return score_mmeb_tasks(
        cfg, Path(inputs.model), as_list(inputs.data), outputs.out,
        tables_dir=inputs.get("prompt_tables"), rows_loader=rows_loader, encoders=encoders,
    )  # fmt: skip


def main(argv: list[str] | None = None, *, rows_loader=None, encoders=None):
    """CLI entry point; tests inject ``rows_loader`` / ``encoders``."""
    return stage_main(partial(run, rows_loader=rows_loader, encoders=encoders), argv, __doc__)


if __name__ == "__main__":
    main()
