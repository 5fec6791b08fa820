"""Reasoning-mode query embedding: queries/second of rge's batched KV-cache decode loop
(``rge.model.reasoning.embed_reasoning``) against the RGE release's per-sample evaluation.

The release (mmeb-facts §1.2) encodes each query alone: ``model.generate(max_new_tokens,
eos_token_id=<emb>, use_cache=True)``, then one more forward step that feeds the last generated
token with the returned cache; the embedding is that step's last hidden state. That loop is
emulated here with HF ``generate`` at batch size 1 (its collation, batched as in the release's
data loader, is timed too; vision placeholders are suppressed in both paths so both generate
the same tokens).

The model is the embedded study's tiny backbone built from ``config/config.yaml`` (or a saved
model directory via ``--model``). A fresh model rarely writes ``<emb>``, so by default its
``<emb>`` LM-head row is tied to a token the model writes about ``--target-tokens`` tokens into
its answers (it then stops where it would have written that token), giving rationales of
realistic, varying length. Both paths run on the same queries in the same process.

    python benchmarks/reasoning_embed.py [--queries 64] [--batch-size 32] [--threads 1] [--smoke]
    python benchmarks/reasoning_embed.py --full-size --device cuda   # Qwen2.5-VL-3B, random init
    python benchmarks/reasoning_embed.py --deep --decode-only         # engines, per decode step

``--engine`` picks rge's generation engine (``dynamic``: today's loop; ``static``: the
fixed-shape step). ``--decode-only`` compares the two engines per decode step (ms, kernel ops,
host syncs; ``benchmarks/decode_bench.py``) and prints ``decode speedup: X`` (dynamic / static)
last; ``--deep`` uses the tiny width at the real depths (36 text layers, 32 vision blocks),
batch 8, 448x448 images. Otherwise the last line printed is ``speedup: X.XX`` (release time /
rge time).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
import yaml

from rge.data.records import IMAGE_TOKEN, Item
from rge.data.scenes import render_scene, sample_scene
from rge.model.chat import build_batch
from rge.model.factory import build_tiny, emb_token_id, load_pretrained
from rge.model.generation import GenerationSettings
from rge.model.reasoning import embed_reasoning, generate_rationales, suppressed_ids

CONFIG = Path(__file__).resolve().parents[1] / "config" / "config.yaml"
sys.path.insert(0, str(Path(__file__).resolve().parent))  # the other benchmarks (gpu_step)
QUESTIONS = (
    "What colour is the object on the left?",
    "What colour is the object on the right?",
    "Which colour is next to the red one?",
    "Name a colour that is not blue.",
)


def load_model(model_dir: str | None, seed: int) -> tuple[Any, Any]:
    """The tiny backbone of ``config/config.yaml`` (or the model saved in ``model_dir``)."""
    backbone = yaml.safe_load(CONFIG.read_text())["backbone"]
    pixels = {"min_pixels": backbone["min_pixels"], "max_pixels": backbone["max_pixels"]}
    if model_dir:
        return load_pretrained(model_dir, **pixels)
    return build_tiny(backbone.get("tiny", {}), seed=seed, **pixels)


def make_queries(n: int, seed: int, size: int = 112) -> tuple[list[Item], Any]:
    """``n`` image queries on synthetic scenes (``size`` px square) and their loader."""
    rng = random.Random(seed)
    images = {f"q{i}": render_scene(sample_scene(rng), size) for i in range(n)}
    items = [Item(f"{IMAGE_TOKEN} {QUESTIONS[i % len(QUESTIONS)]}", f"q{i}") for i in range(n)]
    return items, images.__getitem__


def stop_near(model: Any, processor: Any, items: list[Item], load: Any, target: int, cap: int):
    """Tie ``<emb>``'s LM-head row to the token whose first use is closest to ``target`` tokens
    on average (rows without it count as ``cap``); returns that token id."""
    rationales = generate_rationales(model, processor, items, max_new_tokens=cap, load_image=load)
    firsts: dict[int, list[int]] = {}
    for r in rationales:
        for tok in set(r.token_ids):
            firsts.setdefault(tok, []).append(r.token_ids.index(tok))
    n = len(rationales)

    def mean_length(tok: int) -> float:
        return (sum(firsts[tok]) + cap * (n - len(firsts[tok]))) / n

    best = min(sorted(firsts), key=lambda tok: abs(mean_length(tok) - target))
    with torch.no_grad():
        w = model.lm_head.weight
        w[emb_token_id(processor)] = 1.001 * w[best]
    return best


@torch.no_grad()
def release_loop(model: Any, processor: Any, batches: list[dict], max_new_tokens: int):
    """The release's per-sample evaluation: generate, then one cached step on the last token."""
    tk = processor.tokenizer
    out = []
    for batch in batches:
        model.model.rope_deltas = None
        gen = model.generate(
            **batch,
            max_new_tokens=max_new_tokens,
            do_sample=False,
            eos_token_id=emb_token_id(processor),
            pad_token_id=tk.pad_token_id,
            suppress_tokens=suppressed_ids(processor),
            use_cache=True,
            return_dict_in_generate=True,
        )
        seq = gen.sequences
        # the release passes only the cache position; transformers 5 needs the M-RoPE position
        # of the fed token spelled out (ml-stack-facts trap 2)
        pos = (seq.shape[1] - 1 + model.model.rope_deltas).view(1, 1, 1).expand(3, 1, 1)
        step = model(
            input_ids=seq[:, -1:],
            attention_mask=torch.ones_like(seq),
            position_ids=pos,
            cache=gen.cache,
            use_cache=True,
            output_hidden_states=True,
        )
        out.append(F.normalize(step.hidden_states[-1][:, -1].float(), dim=-1))
    model.model.rope_deltas = None
    return torch.cat(out)


def timed(fn: Any, repeats: int) -> tuple[float, Any]:
    """Best wall time of ``repeats`` calls of ``fn()`` and its last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def profile(fn: Any) -> None:
    """One call of ``fn`` under torch.profiler: the 15 ops with the most self CPU time."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if torch.cuda.is_available() else [])
    with torch_profile(activities=acts) as prof:
        fn()
    print(
        prof.key_averages().table(
            sort_by="self_cpu_time_total", row_limit=15, max_name_column_width=50
        )
    )


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default=None, help="saved model dir (default: build tiny)")
    ap.add_argument(
        "--full-size", action="store_true", help="random-init Qwen2.5-VL-3B in bf16 (gpu_step.py)"
    )
    ap.add_argument("--queries", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--target-tokens", type=int, default=15, help="0: leave <emb> alone")
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="cpu")
    # one thread by default: on a small shared CPU, multi-threaded timings of these tiny ops
    # swing several-fold with the machine's load; 0 keeps torch's default
    ap.add_argument("--threads", type=int, default=1, help="torch CPU threads (0: default)")
    ap.add_argument("--smoke", action="store_true", help="a few queries, seconds")
    ap.add_argument("--profile", action="store_true", help="print rge loop's top ops (profiler)")
    ap.add_argument("--engine", choices=("dynamic", "static"), default="dynamic")
    ap.add_argument("--deep", action="store_true", help="tiny width, real depths, 448x448, batch 8")
    ap.add_argument(
        "--decode-only", action="store_true", help="per decode step: dynamic vs static engine"
    )
    args = ap.parse_args(argv)
    if args.deep:
        args.queries, args.batch_size, args.target_tokens = 8, 8, 0
    if args.smoke:
        args.queries, args.max_new_tokens, args.target_tokens, args.repeats = 4, 6, 3, 1
    return args


def main(argv: list[str] | None = None) -> float:
    """Run both paths on the same queries; print the numbers; return the speedup."""
    args = parse_args(argv)
    threads = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    try:
        return run(args)
    finally:
        torch.set_num_threads(threads)  # leave the caller's process as it was


def run(args: argparse.Namespace) -> float:
    """The measurement behind ``main``."""
    if args.full_size:
        from gpu_step import full_size

        model, processor = full_size(args.device)
    elif args.deep:
        from decode_bench import deep_model

        model, processor = deep_model(args.seed)
    else:
        model, processor = load_model(args.model, args.seed)
    model = model.to(args.device).eval()
    items, load = make_queries(args.queries, args.seed, 448 if args.deep else 112)
    if args.decode_only:
        from decode_bench import compare_engines

        print(f"{'deep tiny' if args.deep else 'model'} on {args.device}, "
              f"{torch.get_num_threads()} threads, {args.queries} queries")  # fmt: skip
        speedup = compare_engines(
            model, processor, items, load, args.max_new_tokens, repeats=args.repeats
        )["speedup"]["decode"]
        if args.deep:
            from decode_bench import compare_vision

            compare_vision(model, processor, items, load, repeats=args.repeats)
            print(f"decode speedup: {speedup:.2f}")  # last, as the script promises
        return speedup
    generation = GenerationSettings(engine=args.engine)
    if args.target_tokens:
        tok = stop_near(model, processor, items, load, args.target_tokens, args.max_new_tokens)
        print(f"<emb> tied to token {tok} ({processor.tokenizer.decode([tok])!r})")
    batches = []
    for it in items:  # per-sample inputs, built before the clock starts
        b = build_batch(processor, [it], emb=False, padding_side="left", load_image=load)
        b.pop("labels")
        batches.append({k: v.to(args.device) for k, v in b.items()})

    def release() -> torch.Tensor:
        # the release collates whole batches (its data loader), then generates per sample
        for i in range(0, len(items), args.batch_size):
            build_batch(processor, items[i : i + args.batch_size], emb=False, load_image=load)
        return release_loop(model, processor, batches, args.max_new_tokens)

    ours_s, (ours, rationales) = timed(
        lambda: embed_reasoning(
            model,
            processor,
            items,
            max_new_tokens=args.max_new_tokens,
            batch_size=args.batch_size,
            load_image=load,
            generation=generation,
        ),
        args.repeats,
    )
    release_s, release_emb = timed(release, args.repeats)
    lengths = [r.n_tokens for r in rationales]
    stopped = [i for i, r in enumerate(rationales) if not r.forced]
    # where <emb> was generated, both paths embed the same sequence; elsewhere the release
    # feeds the last rationale token instead of <emb>
    diff = (
        (ours[stopped].to(release_emb.device) - release_emb[stopped]).abs().max().item()
        if stopped
        else 0
    )
    n_params = sum(p.numel() for p in model.parameters())
    print(
        f"{'Qwen2.5-VL-3B' if args.full_size else 'tiny'} ({n_params / 1e6:.1f} M params, "
        f"{next(model.parameters()).dtype}) on {args.device}, {torch.get_num_threads()} threads; "
        f"{args.queries} queries; max_new_tokens {args.max_new_tokens}"
    )
    print(
        f"rationale tokens: mean {statistics.mean(lengths):.1f}, min {min(lengths)}, "
        f"max {max(lengths)}; forced <emb> {1 - len(stopped) / len(lengths):.0%}"
    )
    print(f"same embedding where <emb> was generated ({len(stopped)} rows): max |diff| {diff:.1e}")
    print(
        f"rge batched KV loop ({args.engine} engine, batch {args.batch_size}): "
        f"{args.queries / ours_s:.1f} queries/s"
    )
    print(f"release per-sample generate + extra step: {args.queries / release_s:.1f} queries/s")
    if args.profile:
        profile(lambda: embed_reasoning(model, processor, items, max_new_tokens=args.max_new_tokens,
                                        batch_size=args.batch_size, load_image=load))  # fmt: skip
    speedup = release_s / ours_s
    print(f"speedup: {speedup:.2f}")
    return speedup


if __name__ == "__main__":
    main()
