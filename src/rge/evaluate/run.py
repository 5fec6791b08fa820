"""Evaluation jobs from files to files: a run's MMEB tasks and its image-text retrieval sets.

``score_mmeb_tasks`` (the ``embed_eval`` stage; MMEB protocol, paper §4.1) loads the model once
and scores every task of one (run, mode) in turn: a job per task would pay the ~5 s
torch/transformers import per task, which dominates at embedded scale. ``score_retrieval_set``
(the ``score_retrieval`` stage; paper §6, Table 7) scores one Flickr30K/COCO-style set.

In reasoning mode a side generates a rationale before ``<emb>`` (paper §3.3); the rationales are
returned (or written) with their statistics so that a score can be read next to them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from rge.data.protocol import eval_rows, tables_for
from rge.data.records import IMAGE_TOKEN, EvalRow, RetrievalSet
from rge.evaluate.encoders import (
    check_mode,
    dir_fingerprint,
    encoder_rationales,
    rationale_records,
    rationale_stats,
    side_caches,
)
from rge.evaluate.metrics import META_TASKS, SPLITS
from rge.evaluate.mmeb import evaluate_task
from rge.evaluate.mmeb import reasoning_entries as mmeb_reasoning_entries
from rge.evaluate.model_encoder import encoding_settings, model_encoder_factory
from rge.evaluate.retrieval import EncoderFactory, evaluate_retrieval
from rge.evaluate.retrieval import reasoning_entries as retrieval_reasoning_entries
from rge.io import atomic_dir, write_json, write_jsonl

log = logging.getLogger(__name__)

# (data_dir, task, cfg) -> the task's rows; injectable for tests
RowLoader = Callable[[Path, str, dict], list[EvalRow]]
# (model_dir, cfg) -> encoder_for(mode, side); injectable for tests
EncodersFrom = Callable[[Path, Mapping], EncoderFactory]

DEFAULT_IMAGE_TEXT = f"{IMAGE_TOKEN} Give a one-sentence caption of what this picture shows."


# ----------------------------------------------------------------------------- MMEB


def load_rows(data_dir: Path, task: str, cfg: dict) -> list[EvalRow]:
    """The task's rows from a fetched eval task directory (``cfg["check_images"]``, default
    false, opens every image header). Bad rows raise: the denominator of Precision@1 must be
    the full task."""
    from rge.data.mmeb import load_eval_rows

    return load_eval_rows(data_dir, task, check_images=cfg.get("check_images", False)).records


def side_modes(cfg: dict) -> dict[str, str]:
    """{side: embedding mode}: the query side follows ``mode``, the target side ``target_mode``
    (default ``direct``; ``reasoning`` reasons on the candidates too, paper §6)."""
    return {"query": cfg["mode"], "target": cfg.get("target_mode", "direct")}


def check_task_cfg(cfg: dict) -> None:
    """Raise unless one task's config is complete and consistent.

    Raises:
        KeyError: ``run``, ``mode``, ``task``, ``meta_task`` or ``split`` is missing, or a
            reasoning side has no integer ``max_new_tokens``.
        ValueError: an unknown meta-task, split or embedding mode.
    """
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


def score_mmeb_tasks(
    cfg: dict,
    model_dir: Path,
    data_dirs: Sequence[Path],
    out_dir: Path,
    *,
    tables_dir: Path | None = None,
    rows_loader: RowLoader | None = None,
    encoders: EncodersFrom | None = None,
) -> dict[str, dict]:
    """Score every task of ``cfg["tasks"]`` with the model in ``model_dir``.

    Args:
        cfg: the ``embed_eval`` config slice (keys in that stage's docstring); ``tasks`` maps
            each task to its ``meta_task`` and ``split``.
        model_dir: the run's saved model.
        data_dirs: fetched eval task folders, one per task, each named after its task.
        out_dir: the output directory, written atomically: per task ``{task}.json`` (the
            score), ``{task}.predictions.jsonl`` and ``{task}.rationales.jsonl``.
        tables_dir: the ``fetch_prompt_tables`` folder; required when ``cfg["prompt_protocol"]``
            is ``rge_release`` (the rows are rewritten with ``rge.data.protocol.eval_rows``).
        rows_loader: reads a task's rows (default ``load_rows``).
        encoders: ``(model_dir, cfg) -> encoder_for`` (default ``model_encoder_factory``).

    Returns:
        {task: score}, the score as written to ``{task}.json``.

    Raises:
        ValueError: the data folders do not match the tasks one to one, or a task is empty.
        KeyError: see ``check_task_cfg``.
    """
    settings = encoding_settings(cfg)
    tables = tables_for(settings["prompt_protocol"], tables_dir)
    tasks = cfg.get("tasks") or {}
    by_name = {Path(d).name: Path(d) for d in data_dirs}
    missing = [t for t in tasks if t not in by_name]
    if not tasks or missing or len(by_name) != len(tasks):
        raise ValueError(
            f"embed_eval: data inputs {sorted(by_name)} do not match tasks {list(tasks)}"
            f" (a fetched task folder is named after its task; missing {missing})"
        )
    task_cfgs = [{**cfg, "task": t, **spec} for t, spec in tasks.items()]
    for task_cfg in task_cfgs:
        check_task_cfg(task_cfg)
    encoder_for = (encoders or model_encoder_factory)(Path(model_dir), cfg)
    fingerprint = dir_fingerprint(model_dir)
    load = rows_loader or load_rows

    def rows_of(data_dir: Path, task: str, task_cfg: dict) -> list[EvalRow]:
        return eval_rows(load(data_dir, task, task_cfg), settings["prompt_protocol"], tables)

    with atomic_dir(out_dir) as out:
        return {
            c["task"]: score_task(
                c, by_name[c["task"]], encoder_for, fingerprint, out, rows_of, settings
            )
            for c in task_cfgs
        }


def score_task(
    cfg: dict,
    data_dir: Path,
    encoder_for: EncoderFactory,
    fingerprint: str,
    out: Path,
    rows_loader: RowLoader = load_rows,
    settings: dict | None = None,
) -> dict:
    """Score one task into ``out/{task}.json`` (+ predictions and rationales JSONL).

    Each unique query and candidate is embedded once (through the embedding caches keyed by
    ``fingerprint``, the model directory's hash, and ``settings``); each row is scored
    against its own candidates; Precision@1 under the release's rule (``acc``: a copy of the
    ground truth is the ground truth) and the strict rule (``acc_strict``: ties against it),
    see ``rge.evaluate.metrics``.

    Args:
        settings: ``rge.evaluate.model_encoder.encoding_settings`` (default: from ``cfg``);
            recorded in the score and part of the cache key.

    Returns:
        The score: acc, num_correct, num_pred, acc_strict, num_correct_strict, task, run,
        mode, meta_task, split, target_mode, max_new_tokens (None without reasoning),
        prompt_protocol, dtype, attn_implementation, decoding (None without reasoning) and
        the rationale statistics.

    Raises:
        ValueError: the task has no rows.
    """
    task, mode = cfg["task"], cfg["mode"]
    rows = rows_loader(data_dir, task, cfg)
    if not rows:
        raise ValueError(f"{data_dir}: task {task!r} has no rows")
    modes = side_modes(cfg)
    settings = settings or encoding_settings(cfg)
    caches = side_caches(
        fingerprint,
        modes,
        pixels=(cfg.get("min_pixels"), cfg.get("max_pixels")),
        max_new_tokens=cfg.get("max_new_tokens"),
        cache_dir=cfg.get("cache_dir"),
        protocol=settings["prompt_protocol"],
        dtype=settings["dtype"],
        attn_implementation=settings["attn_implementation"],
        decoding=settings["decoding"],
    )
    start = time.perf_counter()
    # one encoder per side; the caches key by side too, so the two never mix
    sides = {s: encoder_for(m, s) for s, m in modes.items()}
    result = evaluate_task(rows, lambda items, side: sides[side](items, side), caches)
    caches.save(f"{cfg['run']}__{modes['query']}-{modes['target']}__{task}")
    reasoning = [s for s, m in modes.items() if m == "reasoning"]
    records = rationale_records(
        mmeb_reasoning_entries(rows, reasoning),
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
        **recorded(settings, bool(reasoning)),
        **stats,
    }
    write_jsonl(out / f"{task}.predictions.jsonl", result.predictions)
    write_jsonl(out / f"{task}.rationales.jsonl", records)
    write_json(out / f"{task}.json", score)
    return score


def recorded(settings: dict, reasoning: bool) -> dict:
    """The encoding settings a score file records (``decoding`` only where a side reasons)."""
    return {**settings, "decoding": settings["decoding"] if reasoning else None}


# ----------------------------------------------------------------------------- retrieval


def load_set(data_dir: Path) -> RetrievalSet:
    """The retrieval set fetched into ``data_dir`` (``retrieval.json`` + ``images/``)."""
    from rge.data.retrieval import load_retrieval_set

    return load_retrieval_set(data_dir)


def score_retrieval_set(
    cfg: dict,
    model_dir: Path,
    data_dir: Path,
    *,
    set_loader: Callable[[Path], RetrievalSet] | None = None,
    encoders: EncodersFrom | None = None,
) -> tuple[dict, list[dict]]:
    """R@K in both directions for one retrieval set, with reasoning per side as configured.

    Args:
        cfg: the ``score_retrieval`` config slice (keys in that stage's docstring).
        model_dir: the run's saved model.
        data_dir: the fetched retrieval set.
        set_loader: reads the set (default ``load_set``).
        encoders: ``(model_dir, cfg) -> encoder_for`` (default ``model_encoder_factory``).

    Returns:
        (score, rationale records): the score dict (run, bench, query_mode, target_mode,
        t2i/i2t {R@K} as fractions, counts, rationale statistics) and one record per (side,
        item) embedded in reasoning mode. Each item is reasoned about once even when it serves
        both sides.

    Raises:
        ValueError: an unknown mode, or ``image_text`` without the image token.
        KeyError: a reasoning side without an integer ``max_new_tokens``.
    """
    modes = (cfg["query_mode"], cfg["target_mode"])
    for mode in modes:
        check_mode(mode)
    if "reasoning" in modes and not isinstance(cfg.get("max_new_tokens"), int):
        raise KeyError(f"score_retrieval: reasoning needs cfg max_new_tokens (int), got {cfg}")
    image_text = cfg.get("image_text", DEFAULT_IMAGE_TEXT)
    if IMAGE_TOKEN not in image_text:
        raise ValueError(f"cfg image_text must contain {IMAGE_TOKEN!r}: {image_text!r}")
    settings = encoding_settings(cfg)
    texts = {
        "image_text": image_text,
        "caption_template": cfg.get("caption_template", "{caption}"),
        "protocol": settings["prompt_protocol"],
    }
    rs = (set_loader or load_set)(Path(data_dir))
    factory = (encoders or model_encoder_factory)(Path(model_dir), cfg)
    made = {}

    def encoder_for(mode: str, side: str):
        # remember each encoder, to read the reasoning ones' rationales afterwards
        if (mode, side) not in made:
            made[mode, side] = factory(mode, side)
        return made[mode, side]

    start = time.perf_counter()
    result = evaluate_retrieval(rs, encoder_for, *modes, ks=cfg.get("ks", (1, 5, 10)), **texts)
    rationales = {
        k: r for (mode, _), enc in made.items() if mode == "reasoning"
        for k, r in encoder_rationales(enc).items()
    }  # fmt: skip
    records = rationale_records(retrieval_reasoning_entries(rs, *modes, **texts), rationales)
    score = {
        "run": cfg["run"],
        "bench": cfg["bench"],
        **result,
        "max_new_tokens": cfg["max_new_tokens"] if "reasoning" in modes else None,
        **recorded(settings, "reasoning" in modes),
        **rationale_stats(records),
    }
    log.info(
        "%s/%s %s-%s: t2i %s i2t %s in %.1f s", cfg["run"], cfg["bench"], *modes,
        result["t2i"], result["i2t"], time.perf_counter() - start,
    )  # fmt: skip
    return score, records
