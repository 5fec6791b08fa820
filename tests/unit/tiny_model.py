"""Shared test helper: a very small Qwen2.5-VL (~60 K parameters) built in about a second.

Use ``small_model()`` for a fresh (model, processor); ``scene_items(n)`` for items whose images
are rendered synthetic scenes, with the loader to pass as ``load_image``.
"""

from __future__ import annotations

import random
from typing import Any

from rge.backbone.tiny import build_tiny
from rge.data.records import IMAGE_TOKEN, Item
from rge.data.scenes import render_scene, sample_scene

MIN_PIXELS = 56 * 56
MAX_PIXELS = 112 * 112
SMALL_SPEC: dict[str, Any] = {
    "text_hidden": 32,
    "text_layers": 1,
    "heads": 2,
    "kv_heads": 1,
    "intermediate": 64,
    "vision_depth": 1,
    "vision_hidden": 32,
    "vision_intermediate": 64,
    "vision_heads": 2,
    "fullatt_block_indexes": [0],
    "mrope_section": [2, 3, 3],
    "vocab_size": 320,
}


def small_model(seed: int = 0, **overrides: Any) -> tuple[Any, Any]:
    """A fresh very small tiny model and its processor (same seed, same weights)."""
    return build_tiny(
        {**SMALL_SPEC, **overrides}, seed=seed, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS
    )


def scene_items(
    n: int, seed: int = 0, text: str = f"{IMAGE_TOKEN} What is on the left?"
) -> tuple[list[Item], list[dict], Any]:
    """``n`` image items (keys 'scene-i'), their scenes, and a ``load_image`` for those keys."""
    rng = random.Random(seed)
    scenes = [sample_scene(rng) for _ in range(n)]
    images = {f"scene-{i}": render_scene(s) for i, s in enumerate(scenes)}
    items = [Item(text, f"scene-{i}") for i in range(n)]
    return items, scenes, images.__getitem__
