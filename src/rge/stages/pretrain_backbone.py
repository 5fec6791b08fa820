"""Produce the backbone every run starts from, with ``<emb>`` in its tokenizer.

``source: tiny`` (embedded study): build the tiny Qwen2.5-VL, pretrain it on freshly rendered
synthetic scenes so that it can see — (1) vision warm-up with a temporary left/right colour+shape
head, (2) captioning with the LM loss on ``describe_scene`` — then (3) run the perception probe:
greedy descriptions of held-out scenes scored per attribute. A probe below the threshold logs a
loud WARNING and writes ``"passed": false``; the stage does not fail.
``source: hub`` (paper study): load ``name``@``revision``, add ``<emb>``, save; no probe is run.

Config keys read (the ``backbone`` slice):
    source            "tiny" | "hub"
    name, revision    hub id or local dir, and its revision ("none"/null = default) [hub]
    dtype             torch dtype name for loading, e.g. "bfloat16" [hub; default float32]
    attn_implementation  "sdpa" (default) | "eager" | "flash_attention_2" [hub]
    min_pixels, max_pixels  image processor pixel bounds
    threads           torch intra-op threads (optional)
    seed              build and training seed (default 0)
    tiny              tiny architecture spec (keys of rge.model.factory.TINY_DEFAULTS) [tiny]
    pretrain          [tiny] dict with:
        warmup_steps, warmup_lr, warmup_batch            vision warm-up (steps 0 skips it)
        warmup_ramp (default 30), warmup_min_lr_ratio (default 0.05)
                                                         its linear ramp, then cosine decay
        caption_steps, caption_batch                     captioning
        caption_lr_vision, caption_lr_text               AdamW lrs: vision tower+merger / rest
        caption_warmup (default 50), caption_min_lr_ratio (default 0.1)
                                                         linear warm-up, then cosine to ratio x lr
        probe_scenes, probe_threshold                    held-out scenes; per-attribute minimum
        probe_batch (64), probe_max_new_tokens (24), probe_examples (5)
        image_size (112), prompt (rge.backbone.caption.CAPTION_PROMPT)

Inputs: ``scenes`` (optional): the ``make_synthetic`` output. When given, pretraining draws from
the benchmark's own training scenes (``scenes/train/*.jsonl``) and the probe describes its
evaluation scenes (``scenes/eval/*.jsonl``, held out from training); without it both draw fresh
scenes from the seed.
Outputs: ``model`` (directory, safetensors + processor), ``report`` (JSON).
"""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path

from rge.backbone.caption import CAPTION_PROMPT, caption_pretrain
from rge.backbone.common import set_threads
from rge.backbone.probe import perception_probe
from rge.backbone.warmup import vision_warmup
from rge.data.synthetic import read_sidecar
from rge.io import write_json
from rge.model.factory import build_tiny, load_pretrained, save_pretrained
from rge.stages._cli import Paths, stage_main

log = logging.getLogger("rge.pretrain_backbone")


def _revision(value: object) -> str | None:
    return None if value in (None, "", "none", "None") else str(value)


def run_hub(cfg: dict, model_dir: Path) -> dict:
    """Load the hub (or local) checkpoint, add ``<emb>``, save it; the report says no probe ran."""
    model, processor = load_pretrained(
        cfg["name"],
        revision=_revision(cfg.get("revision")),
        dtype=cfg.get("dtype", "float32"),
        min_pixels=int(cfg["min_pixels"]),
        max_pixels=int(cfg["max_pixels"]),
        attn_implementation=cfg.get("attn_implementation", "sdpa"),
    )
    save_pretrained(model, processor, model_dir)
    return {
        "source": "hub",
        "name": cfg["name"],
        "revision": _revision(cfg.get("revision")),
        "emb_token_id": model.config.emb_token_id,
        "probe": None,
        "passed": None,
        "note": "pretrained checkpoint: no pretraining and no perception probe were run",
    }


def scene_pools(root: Path | None) -> tuple[list[dict] | None, list[dict] | None]:
    """Unique training and evaluation scenes of the synthetic benchmark at ``root`` (or None)."""
    if root is None:
        return None, None
    pools = []
    for split in ("train", "eval"):
        files = sorted((Path(root) / "scenes" / split).glob("*.jsonl"))
        if not files:
            raise FileNotFoundError(f"{root}/scenes/{split}: no scene sidecar (*.jsonl)")
        unique = {}
        for f in files:
            for rec in read_sidecar(f).values():
                unique.setdefault(json.dumps(rec["scene"], sort_keys=True), rec["scene"])
        pools.append([unique[k] for k in sorted(unique)])
    return pools[0], pools[1]


def run_tiny(cfg: dict, model_dir: Path, scenes_root: Path | None = None) -> dict:
    """Build, pretrain and probe the tiny backbone; save it; return the report."""
    pre, seed = cfg.get("pretrain", {}), int(cfg.get("seed", 0))
    size, prompt = int(pre.get("image_size", 112)), pre.get("prompt", CAPTION_PROMPT)
    times, t0 = {}, time.perf_counter()
    model, processor = build_tiny(
        cfg.get("tiny", {}),
        seed=seed,
        min_pixels=int(cfg["min_pixels"]),
        max_pixels=int(cfg["max_pixels"]),
    )
    times["build"] = time.perf_counter() - t0
    train_pool, probe_pool = scene_pools(scenes_root)
    warm = vision_warmup(
        model,
        processor,
        steps=int(pre["warmup_steps"]),
        lr=float(pre["warmup_lr"]),
        batch_size=int(pre["warmup_batch"]),
        seed=seed + 1,
        image_size=size,
        ramp_steps=int(pre.get("warmup_ramp", 30)),
        min_lr_ratio=float(pre.get("warmup_min_lr_ratio", 0.05)),
        pool=train_pool,
    )
    cap = caption_pretrain(
        model,
        processor,
        steps=int(pre["caption_steps"]),
        lr_vision=float(pre["caption_lr_vision"]),
        lr_lm=float(pre["caption_lr_text"]),
        batch_size=int(pre["caption_batch"]),
        warmup_steps=int(pre.get("caption_warmup", 50)),
        min_lr_ratio=float(pre.get("caption_min_lr_ratio", 0.1)),
        seed=seed + 2,
        prompt=prompt,
        image_size=size,
        pool=train_pool,
    )
    times["warmup"], times["caption"] = warm["seconds"], cap["seconds"]
    t1 = time.perf_counter()
    probe = perception_probe(
        model,
        processor,
        n_scenes=int(pre["probe_scenes"]),
        seed=seed + 1_000_003,  # a stream no training step draws from: held-out scenes
        prompt=prompt,
        batch_size=int(pre.get("probe_batch", 64)),
        max_new_tokens=int(pre.get("probe_max_new_tokens", 24)),
        n_examples=int(pre.get("probe_examples", 5)),
        image_size=size,
        pool=probe_pool,
    )
    times["probe"] = time.perf_counter() - t1
    save_pretrained(model, processor, model_dir)
    times["total"] = time.perf_counter() - t0
    threshold = float(pre["probe_threshold"])
    below = sorted(a for a, acc in probe["accuracy"].items() if acc < threshold)
    return {
        "source": "tiny",
        "seed": seed,
        "scenes": "benchmark" if train_pool else "fresh",
        "train_scenes": len(train_pool) if train_pool else None,
        "params": sum(p.numel() for p in model.parameters()),
        "tiny": cfg.get("tiny", {}),
        "pretrain": pre,
        "warmup": warm,
        "caption": cap,
        "probe": probe,
        "probe_threshold": threshold,
        "below_threshold": below,
        "passed": not below,
        "seconds": {k: round(v, 2) for k, v in times.items()},
    }


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Stage entry point (see the module docstring for keys, inputs and outputs)."""
    source = cfg.get("source")
    if source not in ("tiny", "hub"):
        raise ValueError(f"backbone.source must be 'tiny' or 'hub', got {source!r}")
    set_threads(cfg.get("threads"))
    if source == "tiny":
        report = run_tiny(cfg, outputs.model, inputs.get("scenes"))
    else:
        report = run_hub(cfg, outputs.model)
    if report["passed"] is False:
        log.warning(
            "!!! PERCEPTION PROBE BELOW THRESHOLD %.2f on %s: %s — the backbone may not see well "
            "enough for the downstream study to mean anything !!!",
            report["probe_threshold"],
            report["below_threshold"],
            report["probe"]["accuracy"],
        )
    elif source == "tiny":
        log.info("perception probe passed: %s", report["probe"]["accuracy"])
    write_json(outputs.report, report)
    return report


def main(argv: list[str] | None = None) -> dict:
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
