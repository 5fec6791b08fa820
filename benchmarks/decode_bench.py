"""Per decode step cost of the two generation engines (shared by the benchmarks in this folder).

``decode_stats`` times a whole batch decode at the cap and at cap 0 (prefill only); the
difference divided by the cap is one decode step: ms, aten kernel ops issued and host
synchronisations (``rge.model.op_count``). With a random-init model no row writes ``<emb>``, so
every row decodes to the cap and the two engines do the same work.

``deep_model`` is the ``--deep`` shape: the tiny width with the real depths (36 text layers, 32
vision blocks with full attention at 7/15/23/31), 448x448 images. At this width a step's time is
framework overhead: what a GPU pays as launches and host round-trips.
"""

from __future__ import annotations

import time
from typing import Any

import torch

DEEP_SPEC = {
    "text_layers": 36,
    "vision_depth": 32,
    "fullatt_block_indexes": [7, 15, 23, 31],
    "window_size": 112,
}
DEEP_PIXELS = 448 * 448


def deep_model(seed: int = 0) -> tuple[Any, Any]:
    """The tiny backbone made as deep as Qwen2.5-VL-3B, for 448x448 images."""
    from rge.model.factory import build_tiny

    return build_tiny(DEEP_SPEC, seed=seed, min_pixels=DEEP_PIXELS, max_pixels=DEEP_PIXELS)


def _one_batch(model, processor, items, load, settings, cap) -> None:
    from rge.model.reasoning import embed_reasoning

    embed_reasoning(
        model, processor, items, max_new_tokens=cap, batch_size=len(items), load_image=load,
        generation=settings,
    )  # fmt: skip


def _sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def _best(fn) -> float:
    _sync()
    t0 = time.perf_counter()
    fn()
    _sync()
    return time.perf_counter() - t0


def decode_stats(
    model: Any,
    processor: Any,
    items: list,
    load: Any,
    settings: dict[str, Any],
    cap: int,
    repeats: int = 3,
) -> dict[str, dict[str, float]]:
    """{name: {'ms', 'ops', 'syncs'}} per decode step of one batch of ``items`` for each of the
    named ``settings``.

    Every setting decodes the batch at ``cap`` and at 0 (prefill and the cap step only); the
    settings take turns ``repeats`` times, so they see the same machine load, and each uses its
    fastest run (on a shared machine the least disturbed one).
    """
    from rge.model.op_count import OpCounter

    runs = {(name, c): [] for name in settings for c in (cap, 0)}
    for _ in range(repeats):
        for name, s in settings.items():
            for c in (cap, 0):
                runs[name, c].append(
                    _best(lambda s=s, c=c: _one_batch(model, processor, items, load, s, c))
                )
    out = {}
    for name, s in settings.items():
        counts = []
        for c in (cap, 0):
            with OpCounter() as count:
                _one_batch(model, processor, items, load, s, c)
            counts.append(count)
        out[name] = {
            "ms": 1000 * (min(runs[name, cap]) - min(runs[name, 0])) / cap,
            "ops": (counts[0].kernel_ops - counts[1].kernel_ops) / cap,
            "syncs": (counts[0].syncs - counts[1].syncs) / cap,
        }
    return out


def compare_engines(
    model: Any, processor: Any, items: list, load: Any, cap: int, repeats: int = 3, **common: Any
) -> dict[str, dict[str, float]]:
    """``decode_stats`` of the dynamic and the static engine; prints one line each and the
    ratio ``decode speedup: X`` (dynamic ms / static ms)."""
    from rge.model.generation import GenerationSettings

    settings = {e: GenerationSettings(engine=e, **common) for e in ("dynamic", "static")}
    out = decode_stats(model, processor, items, load, settings, cap, repeats)
    for engine, s in out.items():
        print(
            f"{engine:>7} engine, batch {len(items)}, cap {cap}: {s['ms']:.2f} ms per decode "
            f"step, {s['ops']:.0f} kernel ops issued, {s['syncs']:.2f} host syncs"
        )
    speedup = out["dynamic"]["ms"] / out["static"]["ms"]
    print(f"decode speedup: {speedup:.2f}")
    out["speedup"] = {"decode": speedup}
    return out


def compare_vision(model: Any, processor: Any, items: list, load: Any, repeats: int = 3) -> dict:
    """The vision tower over the items' images: transformers' per-window loop vs one call per
    layer (``rge.model.vision_attention``): attention calls, host syncs, ms (fastest run) and
    max |difference| of the output; prints one line each. Leaves ``model`` on the one call."""
    from rge.model.chat import build_batch
    from rge.model.op_count import OpCounter
    from rge.model.vision_attention import use_vision_varlen

    batch = build_batch(processor, items, load_image=load)
    device = next(model.parameters()).device
    pv, thw = batch["pixel_values"].to(device), batch["image_grid_thw"].to(device)
    out, res = {}, {}
    for name in ("per-window", "one call"):
        if name == "one call":
            use_vision_varlen(model)
        with torch.no_grad():
            ms = 1000 * min(
                _best(lambda: model.model.visual(pv, grid_thw=thw)) for _ in range(repeats)
            )
            with OpCounter() as count:
                out[name] = model.model.visual(pv, grid_thw=thw).pooler_output.float()
        calls = sum(n for op, n in count.by_name.items() if "scaled_dot_product" in op)
        res[name] = {"ms": ms, "attention_calls": calls, "syncs": count.syncs}
        print(f"vision tower ({name}), {len(items)} images: {ms:.0f} ms, {calls} attention "
              f"calls, {count.syncs} host syncs")  # fmt: skip
    diff = (out["per-window"] - out["one call"]).abs().max().item()
    print(f"vision one call vs per-window: max |diff| {diff:.1e}")
    res["max_abs_diff"] = diff
    return res
