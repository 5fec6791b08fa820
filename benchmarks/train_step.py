"""Time split of one RGE training step (``pair: q_self``) against one baseline step.

Both steps run the real objectives (``rge.train.objectives``) and AdamW on the embedded study's
tiny backbone (``rge.model.factory.TINY_DEFAULTS``, random init) over rendered synthetic scenes,
in one process. Each step's wall time is split into: generation (the self rationale, no grad),
forwards (every grad or no-grad forward of the objective), backward, optimizer (clip + AdamW)
and other (tokenizing, image processing, loss arithmetic). A random-init model never writes
``<emb>``, so every self rationale runs to ``--max-new-tokens`` (the worst case).

    python benchmarks/train_step.py [--batch-size 8] [--steps 5] [--chunk-size 0] [--smoke]
    python benchmarks/train_step.py --deep --steps 2     # real depths, 448x448 images

The RGE step is measured with each generation engine (``dynamic``: the old loop, ``static``:
the fixed-shape step); ``generation speedup`` is the ratio of their generation parts.

The last line printed is ``ratio: X.XX`` (RGE step time with the dynamic engine / baseline). The helpers here
are shared with ``benchmarks/gpu_step.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch

PARTS = ("generation", "forwards", "backward", "optimizer", "other")


class PartTimer:
    """Wall time (ms) and, on CUDA, peak allocated memory (GiB) per named part of a step."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.ms: dict[str, float] = {}
        self.peak: dict[str, float] = {}
        self._depth = 0

    @contextlib.contextmanager
    def part(self, name: str) -> Iterator[None]:
        if self._depth:  # nested (e.g. a forward inside generation): count it once, outside
            yield
            return
        self._depth += 1
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            if self.cuda:
                torch.cuda.synchronize()
                peak = torch.cuda.max_memory_allocated() / 2**30
                self.peak[name] = max(self.peak.get(name, 0.0), peak)
            self.ms[name] = self.ms.get(name, 0.0) + 1000 * (time.perf_counter() - t0)
            self._depth -= 1


def scene_pairs(root: Path, n: int, *, size: int, seed: int = 0) -> tuple[list, dict[str, str]]:
    """``n`` image -> colour pairs of one subset over rendered scenes, with oracle rationales."""
    from rge.data.records import IMAGE_TOKEN, Item, TrainPair
    from rge.data.scenes import describe_scene, render_scene, sample_scene

    rng = random.Random(seed)
    pairs, oracle = [], {}
    root.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        scene = sample_scene(rng)
        path = root / f"scene_{i}.png"
        render_scene(scene, size=size).save(path)
        key = f"bench/{i}"
        query = Item(f"{IMAGE_TOKEN} Which colour is on the left?", str(path))
        pairs.append(TrainPair(key, "bench", query, Item(f"a {scene['left']['color']} object")))
        oracle[key] = f"{describe_scene(scene)} the left one is {scene['left']['color']} ."
    return pairs, oracle


def timed_step(
    model: Any, processor: Any, pairs: list, objective: Any, opt: Any, timer: PartTimer
) -> float:
    """One training step with its parts timed into ``timer``; returns the step's ms."""
    import rge.model.embed as embed_mod

    real_forward = embed_mod.forward

    def forward(*args: Any, **kwargs: Any) -> Any:
        with timer.part("forwards"):
            return real_forward(*args, **kwargs)

    def backward(loss: torch.Tensor) -> None:
        with timer.part("backward"):
            loss.backward()

    real_gen = getattr(objective, "generate_fn", None)
    if hasattr(objective, "generate_fn"):
        from rge.model.reasoning import generate_rationales

        gen = real_gen or generate_rationales

        def timed_gen(*args: Any, **kwargs: Any) -> Any:
            with timer.part("generation"):
                return gen(*args, **kwargs)

        objective.generate_fn = timed_gen
    sync = torch.cuda.synchronize if timer.cuda else (lambda: None)
    embed_mod.forward = forward
    try:
        sync()
        t0 = time.perf_counter()
        opt.zero_grad(set_to_none=True)
        out = objective(model, processor, pairs, backward=backward)
        if not out.backward_done:
            backward(out.loss)
        with timer.part("optimizer"):
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
        sync()
        total = 1000 * (time.perf_counter() - t0)
    finally:
        embed_mod.forward = real_forward
        if hasattr(objective, "generate_fn"):
            objective.generate_fn = real_gen
    # one timer per step: what no part claimed is tokenizing, image processing, loss math
    timer.ms["other"] = total - sum(timer.ms.get(k, 0.0) for k in PARTS if k != "other")
    timer.ms["total"] = total
    return total


def measure(
    make_objective: Callable[[], Any],
    model: Any,
    processor: Any,
    pairs: list,
    *,
    steps: int,
    lr: float = 1e-5,
) -> dict[str, Any]:
    """Median per-part ms over ``steps`` timed steps after one warm-up step (+ CUDA peaks)."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    device = next(model.parameters()).device
    model.train()
    objective = make_objective()
    timed_step(model, processor, pairs, objective, opt, PartTimer(device))  # warm-up
    runs = []
    for _ in range(steps):
        timer = PartTimer(device)
        timed_step(model, processor, pairs, objective, opt, timer)
        runs.append(timer)
    ms = {k: statistics.median(t.ms.get(k, 0.0) for t in runs) for k in (*PARTS, "total")}
    peak = {k: max(t.peak.get(k, 0.0) for t in runs) for k in PARTS if runs[0].peak.get(k)}
    return {"ms": ms, "peak_gib": peak}


def table(results: dict[str, dict], *, memory: bool) -> str:
    """A markdown table: one row per part, one column (ms, and peak GiB) per measured step."""
    names = list(results)
    head = "| part | " + " | ".join(
        f"{n} ms" + (f" | {n} peak GiB" if memory else "") for n in names
    ) + " |"  # fmt: skip
    lines = [head, "|" + "---|" * (1 + len(names) * (2 if memory else 1))]
    for part in (*PARTS, "total"):
        cells = []
        for n in names:
            cells.append(f"{results[n]['ms'][part]:.1f}")
            if memory:
                peak = results[n]["peak_gib"].get(part)
                cells.append(f"{peak:.2f}" if peak is not None else "")
        lines.append(f"| {part} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rge_objectives(oracle: dict, chunk: int, cap: int, **common: Any) -> dict[str, Callable]:
    """One ``q_self`` objective maker per generation engine (the old loop beside the new)."""
    from functools import partial

    from rge.model.generation import GenerationSettings
    from rge.model.reasoning import generate_rationales
    from rge.train.objectives import RgeObjective

    def make(engine: str) -> Callable[[], Any]:
        gen = partial(generate_rationales, generation=GenerationSettings(engine=engine))
        return lambda: RgeObjective(
            pair="q_self", rationales=oracle, chunk_size=chunk, max_new_tokens=cap,
            generate_fn=gen, **common,
        )  # fmt: skip

    # "rge q_self" is the old loop (the name earlier results and tests use)
    return {"rge q_self": make("dynamic"), "rge q_self static": make("static")}


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--max-new-tokens", type=int, default=16)
    ap.add_argument("--chunk-size", type=int, default=0, help="gradient cache chunk (0 = off)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--smoke", action="store_true", help="batch 4, 1 step, 4 new tokens")
    ap.add_argument("--deep", action="store_true", help="tiny width, real depths, 448x448")
    args = ap.parse_args(argv)
    if args.smoke:
        args.batch_size, args.steps, args.max_new_tokens = 4, 1, 4
    torch.set_num_threads(args.threads)
    from decode_bench import DEEP_PIXELS, deep_model

    from rge.model.factory import build_tiny
    from rge.train.objectives import BaselineObjective

    if args.deep:
        model, processor = deep_model()
    else:
        model, processor = build_tiny({}, seed=0, min_pixels=56 * 56, max_pixels=112 * 112)
    size = int(DEEP_PIXELS**0.5) if args.deep else 112
    with tempfile.TemporaryDirectory() as tmp:
        pairs, oracle = scene_pairs(Path(tmp), args.batch_size, size=size)
        makers = {"baseline": lambda: BaselineObjective(chunk_size=args.chunk_size)}
        makers |= rge_objectives(oracle, args.chunk_size, args.max_new_tokens)
        results = {
            name: measure(make, model, processor, pairs, steps=args.steps)
            for name, make in makers.items()
        }
    print(f"tiny backbone{' (deep)' if args.deep else ''} (random init), CPU, "
          f"{torch.get_num_threads()} threads, batch {args.batch_size}, max_new_tokens "
          f"{args.max_new_tokens}, chunk {args.chunk_size}, median of {args.steps} steps")  # fmt: skip
    print(table(results, memory=False))
    ms = {k: v["ms"] for k, v in results.items()}
    gen = ms["rge q_self"]["generation"] / ms["rge q_self static"]["generation"]
    print(f"generation speedup: {gen:.2f} (dynamic / static engine)")
    ratio = ms["rge q_self"]["total"] / ms["baseline"]["total"]
    print(f"ratio: {ratio:.2f}")
    return {"results": results, "ratio": ratio, "generation_speedup": gen}


if __name__ == "__main__":
    main()
