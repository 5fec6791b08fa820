"""Helpers shared by the backbone pretraining steps: scene batches and the learning-rate schedule."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Any

import torch

from rge.data import scenes


def scene_images(
    rng: random.Random, n: int, image_size: int, pool: Sequence[dict] | None = None
) -> tuple[list[dict], dict[str, Any]]:
    """Draw ``n`` scenes (fresh ones, or from ``pool``); return them and a key -> image map.

    Keys are 's0', 's1', ...; images are rendered from the scene metadata, so a pool of the
    benchmark's sidecar scenes reproduces the benchmark's own images.
    """
    if pool:
        batch = [rng.choice(pool) for _ in range(n)]
    else:
        batch = [scenes.sample_scene(rng) for _ in range(n)]
    return batch, {f"s{i}": scenes.render_scene(s, image_size) for i, s in enumerate(batch)}


def warmup_cosine(step: int, *, total: int, warmup: int, min_ratio: float) -> float:
    """LR multiplier: linear warm-up over ``warmup`` steps, then cosine from 1 to ``min_ratio``."""
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def set_threads(threads: int | None) -> None:
    """Pin torch's intra-op threads (None leaves torch's default)."""
    if threads:
        torch.set_num_threads(int(threads))
