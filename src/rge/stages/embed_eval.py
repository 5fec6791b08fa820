"""Embed and score one MMEB eval task for one run and embedding mode (MMEB protocol, paper §4.1).

Each unique query and candidate is embedded once; each row is scored against its own candidates;
Precision@1 with ties counted against the ground truth (``rge.evaluate.metrics``).

Config keys (cfg slice):
    run (str): the run name (written into the score).
    mode (str): "direct" | "reasoning" ("reasoning" is not available yet: the stage raises).
    task (str): the MMEB task folder name, e.g. "OK-VQA".
    meta_task (str): "classification" | "vqa" | "retrieval" | "grounding".
    split (str): "IND" | "OOD".
    batch_size (int): items per forward pass.
    min_pixels, max_pixels (int): image resolution bounds for the processor.
    check_images (bool, default false): open every image header while loading (slow) or only
        check existence.
    cache_dir (str | null, default null): root of the on-disk embedding cache shared across
        tasks and reruns (keyed by model fingerprint + mode + resolution); null = memory only.

Inputs:
    model: the model directory (``save_pretrained`` layout).
    data: the fetched eval task directory (``<task>/test-*.parquet`` + ``eval_images/``).
Outputs:
    score: ``{task}.json`` = {acc, num_correct, num_pred, task, run, mode, meta_task, split}.
    predictions: JSONL, one record per row: key, pred, correct, num_candidates, gt_score,
        best_other_score.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from rge.data.records import EvalRow
from rge.evaluate.cache import EmbeddingCache
from rge.evaluate.encoders import check_mode, dir_fingerprint, model_encoders
from rge.evaluate.metrics import META_TASKS, SPLITS
from rge.evaluate.mmeb import evaluate_task
from rge.io import write_json, write_jsonl
from rge.stages._cli import stage_main

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
    )


def _check_cfg(cfg: dict) -> None:
    missing = [k for k in ("run", "mode", "task", "meta_task", "split") if k not in cfg]
    if missing:
        raise KeyError(f"embed_eval: cfg lacks {missing}")
    if cfg["meta_task"] not in META_TASKS or cfg["split"] not in SPLITS:
        raise ValueError(
            f"task {cfg['task']!r}: bad meta_task/split {cfg['meta_task']}/{cfg['split']}"
        )
    check_mode(cfg["mode"])


def run(cfg: dict, inputs, outputs, *, rows_loader: RowLoader = load_rows, encoders=None) -> dict:
    """Score one task; ``rows_loader`` and ``encoders`` (model_dir, cfg) -> encoder_for are
    injectable for tests."""
    _check_cfg(cfg)
    task, mode = cfg["task"], cfg["mode"]
    rows = rows_loader(Path(inputs.data), task, cfg)
    if not rows:
        raise ValueError(f"{inputs.data}: task {task!r} has no rows")
    encoder_for = (encoders or model_encoder_factory)(Path(inputs.model), cfg)
    identity = (
        f"model={dir_fingerprint(inputs.model)};mode={mode};"
        f"pixels={cfg.get('min_pixels')}-{cfg.get('max_pixels')}"
    )
    cache = EmbeddingCache(identity, cfg.get("cache_dir"))
    start = time.perf_counter()
    # one encoder per side; the cache keys by side too, so the two never mix
    sides = {s: encoder_for(mode, s) for s in ("query", "target")}
    result = evaluate_task(rows, lambda items, side: sides[side](items, side), cache)
    cache.save(f"{cfg['run']}__{task}")
    log.info(
        "%s/%s/%s: acc %.4f (%d/%d) in %.1f s; cache hits %d, encoded %d",
        cfg["run"], mode, task, result.acc, result.num_correct, result.num_pred,
        time.perf_counter() - start, cache.hits, cache.misses,
    )  # fmt: skip
    keys = ("task", "run", "mode", "meta_task", "split")
    score = {**result.summary(), **{k: cfg[k] for k in keys}}
    write_jsonl(outputs.predictions, result.predictions)
    write_json(outputs.score, score)
    return score


def main(argv: list[str] | None = None, *, rows_loader: RowLoader = load_rows, encoders=None):
    """CLI entry point; tests inject ``rows_loader`` / ``encoders``."""
    return stage_main(partial(run, rows_loader=rows_loader, encoders=encoders), argv, __doc__)


if __name__ == "__main__":
    main()
