"""Embed and score the MMEB eval tasks of one run and embedding mode (MMEB protocol, paper §4.1).

One job per (run, mode) loads the model once and scores every task in turn (a job per task
would pay the ~5 s torch/transformers import per task, which dominates at embedded scale).

Each unique query and candidate is embedded once; each row is scored against its own candidates;
Precision@1 with ties counted against the ground truth (``rge.evaluate.metrics``). In reasoning
mode the query side generates a rationale before ``<emb>`` (the target side too with
``target_mode: reasoning``, paper Table 7); the rationales are written out with their statistics.

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
    cache_dir (str | null, default null): root of the on-disk embedding cache shared across
        tasks and reruns (keyed by model fingerprint + mode + resolution); null = memory only.
        Only direct-mode sides use it (a direct-mode side of a reasoning run shares the direct
        run's vectors); a reasoning side is cached in memory, because its rationales must be
        written out on every run and the cache keeps vectors only.

Inputs:
    model: the model directory (``save_pretrained`` layout).
    data: the fetched eval task directories (``<task>/test-*.parquet`` + ``eval_images/``), one
        per task of ``tasks``, each named after its task (repeat the name).
Outputs:
    out: a directory with, per task, the three files below.
    ``{task}.json`` = {acc, num_correct, num_pred, task, run, mode, meta_task, split,
        target_mode, max_new_tokens (null without reasoning), num_rationales,
        mean_rationale_tokens, forced_emb_rate (both null without rationales)}.
    ``{task}.predictions.jsonl``: one record per row: key, pred, correct, num_candidates, gt_score,
        best_other_score.
    ``{task}.rationales.jsonl``: one record per unique item embedded in reasoning mode: key (row key, or
        "<row key>/<candidate index>" on the target side), side, text, image, rationale,
        n_tokens, forced (``<emb>`` appended at the budget). Empty in direct mode.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from rge.data.records import EvalRow
from rge.evaluate.encoders import (
    check_mode,
    dir_fingerprint,
    encoder_rationales,
    model_encoders,
    rationale_records,
    rationale_stats,
    side_caches,
)
from rge.evaluate.metrics import META_TASKS, SPLITS
from rge.evaluate.mmeb import evaluate_task, reasoning_entries
from rge.io import atomic_dir, write_json, write_jsonl
from rge.stages._cli import as_list, stage_main

log = logging.getLogger(__name__)

RowLoader = Callable[[Path, str, dict], list[EvalRow]]


def load_rows(data_dir: Path, task: str, cfg: dict) -> list[EvalRow]:
    """The task's rows from a fetched eval task directory (bad rows raise: the denominator
    of Precision@1 must be the full task)."""
    from rge.data.mmeb import load_eval_rows

    return load_eval_rows(data_dir, task, check_images=cfg.get("check_images", False)).records


def model_encoder_factory(model_dir: Path, cfg: dict):
    """``encoder_for(mode, side)`` over the run's saved model."""
    return model_encoders(
        model_dir,
        min_pixels=cfg["min_pixels"],
        max_pixels=cfg["max_pixels"],
        batch_size=cfg["batch_size"],
        max_new_tokens=cfg.get("max_new_tokens"),
    )


def _check_cfg(cfg: dict) -> None:
    missing = [k for k in ("run", "mode", "task", "meta_task", "split") if k not in cfg]
    if missing:
        raise KeyError(f"embed_eval: cfg lacks {missing}")
    if cfg["meta_task"] not in META_TASKS or cfg["split"] not in SPLITS:
        raise ValueError(
            f"task {cfg['task']!r}: bad meta_task/split {cfg['meta_task']}/{cfg['split']}"
        )
    modes = side_modes(cfg)
    for mode in modes.values():
        check_mode(mode)
    if "reasoning" in modes.values() and not isinstance(cfg.get("max_new_tokens"), int):
        raise KeyError(f"embed_eval: reasoning mode needs cfg max_new_tokens (int), got {cfg}")


def side_modes(cfg: dict) -> dict[str, str]:
    """{side: embedding mode}: the query side follows ``mode``, the target side ``target_mode``."""
    return {"query": cfg["mode"], "target": cfg.get("target_mode", "direct")}


def run(cfg: dict, inputs, outputs, *, rows_loader: RowLoader = load_rows, encoders=None) -> dict:
    """Score every task of ``cfg["tasks"]``; returns {task: score}. ``rows_loader`` and
    ``encoders`` (model_dir, cfg) -> encoder_for are injectable for tests."""
    tasks = cfg.get("tasks") or {}
    data_dirs = {Path(d).name: Path(d) for d in as_list(inputs.data)}
    missing = [t for t in tasks if t not in data_dirs]
    if not tasks or missing or len(data_dirs) != len(tasks):
        raise ValueError(
            f"embed_eval: data inputs {sorted(data_dirs)} do not match tasks {list(tasks)}"
            f" (a fetched task folder is named after its task; missing {missing})"
        )
    task_cfgs = [{**cfg, "task": t, **spec} for t, spec in tasks.items()]
    for task_cfg in task_cfgs:
        _check_cfg(task_cfg)
    encoder_for = (encoders or model_encoder_factory)(Path(inputs.model), cfg)
    fingerprint = dir_fingerprint(inputs.model)
    with atomic_dir(outputs.out) as out:
        return {
            c["task"]: score_task(
                c, data_dirs[c["task"]], encoder_for, fingerprint, out, rows_loader
            )
            for c in task_cfgs
        }


def score_task(
    cfg: dict,
    data_dir: Path,
    encoder_for,
    fingerprint: str,
    out: Path,
    rows_loader: RowLoader = load_rows,
) -> dict:
    """Score one task into ``out/{task}.json`` (+ predictions and rationales JSONL)."""
    task, mode = cfg["task"], cfg["mode"]
    rows = rows_loader(data_dir, task, cfg)
    if not rows:
        raise ValueError(f"{data_dir}: task {task!r} has no rows")
    modes = side_modes(cfg)
    caches = side_caches(
        fingerprint,
        modes,
        pixels=(cfg.get("min_pixels"), cfg.get("max_pixels")),
        max_new_tokens=cfg.get("max_new_tokens"),
        cache_dir=cfg.get("cache_dir"),
    )
    start = time.perf_counter()
    # one encoder per side; the caches key by side too, so the two never mix
    sides = {s: encoder_for(m, s) for s, m in modes.items()}
    result = evaluate_task(rows, lambda items, side: sides[side](items, side), caches)
    caches.save(f"{cfg['run']}__{modes['query']}-{modes['target']}__{task}")
    reasoning = [s for s, m in modes.items() if m == "reasoning"]
    records = rationale_records(
        reasoning_entries(rows, reasoning),
        {k: r for s in reasoning for k, r in encoder_rationales(sides[s]).items()},
    )
    stats = rationale_stats(records)
    hits, misses = caches.counts()
    log.info(
        "%s/%s/%s: acc %.4f (%d/%d) in %.1f s; cache hits %d, encoded %d; rationales %s",
        cfg["run"], mode, task, result.acc, result.num_correct, result.num_pred,
        time.perf_counter() - start, hits, misses, stats,
    )  # fmt: skip
    keys = ("task", "run", "mode", "meta_task", "split")
    score = {
        **result.summary(),
        **{k: cfg[k] for k in keys},
        "target_mode": modes["target"],
        "max_new_tokens": cfg["max_new_tokens"] if reasoning else None,
        **stats,
    }
    write_jsonl(out / f"{task}.predictions.jsonl", result.predictions)
    write_jsonl(out / f"{task}.rationales.jsonl", records)
    write_json(out / f"{task}.json", score)
    return score


def main(argv: list[str] | None = None, *, rows_loader: RowLoader = load_rows, encoders=None):
    """CLI entry point; tests inject ``rows_loader`` / ``encoders``."""
    return stage_main(partial(run, rows_loader=rows_loader, encoders=encoders), argv, __doc__)


if __name__ == "__main__":
    main()
