"""The decode part of the GPU check: the old loop vs the static step (eager and graph-captured),
and the vision tower's per-window loop vs one call per layer, on the full-size Qwen2.5-VL-3B.

    python benchmarks/gpu_decode_check.py OUT_DIR [--batches 8 32 128] [--cap 16]

Parts (each appends to OUT_DIR/gpu_decode.json as soon as it ends, so a timeout keeps data):
env (device, torch, transformers, ``torch.nn.attention.varlen``); vision (32 images at 448x448:
forward ms per-window vs one call, max |dout|, max |dgrad| of block 0's qkv weight); decode
(per batch size: ms / kernel ops / host syncs per decode step of the dynamic engine, the static
engine eager and the static engine graph-captured). A table is printed last.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from decode_bench import decode_stats  # noqa: E402
from reasoning_embed import make_queries  # noqa: E402


def _save(out: Path, report: dict) -> None:
    (out / "gpu_decode.json").write_text(json.dumps(report, indent=1))


def env_part() -> dict:
    import transformers

    return {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "varlen": hasattr(torch.nn.attention, "varlen"),
    }


def _cuda_ms(fn: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def vision_part(model: Any, processor: Any, n_images: int = 32) -> dict:
    from rge.model.chat import build_batch
    from rge.model.vision_attention import use_vision_varlen

    items, load = make_queries(n_images, 0, 448)
    batch = build_batch(processor, items, load_image=load)
    pv = batch["pixel_values"].cuda().to(torch.bfloat16)
    thw = batch["image_grid_thw"].cuda()
    res: dict[str, Any] = {}
    outs = {}
    for name in ("per_window", "one_call"):
        if name == "one_call":
            use_vision_varlen(model)
        visual = model.model.visual
        with torch.no_grad():
            res[f"{name}_ms"] = _cuda_ms(lambda v=visual: v(pv, grid_thw=thw), 5)
        visual.zero_grad(set_to_none=True)
        out = visual(pv, grid_thw=thw).pooler_output
        out.float().pow(2).mean().backward()
        grad = visual.blocks[0].attn.qkv.weight.grad.float().clone()
        outs[name] = (out.detach().float(), grad)
    model.set_attn_implementation({"vision_config": "sdpa"})
    res["max_abs_out"] = (outs["per_window"][0] - outs["one_call"][0]).abs().max().item()
    res["max_abs_grad_qkv"] = (outs["per_window"][1] - outs["one_call"][1]).abs().max().item()
    model.zero_grad(set_to_none=True)
    return res


def decode_part(model: Any, processor: Any, batch: int, cap: int) -> dict:
    from rge.model import static_decode as sd
    from rge.model.generation import GenerationSettings

    items, load = make_queries(batch, 0, 448)
    dynamic, static = GenerationSettings(), GenerationSettings(engine="static")
    t0 = time.perf_counter()
    res = decode_stats(model, processor, items, load, {"dynamic": dynamic}, cap, repeats=2)
    sd.CUDA_GRAPHS = False
    res |= decode_stats(model, processor, items, load, {"static_eager": static}, cap, repeats=2)
    sd.CUDA_GRAPHS = True
    res |= decode_stats(model, processor, items, load, {"static_graph": static}, cap, repeats=2)
    res["wall_s"] = time.perf_counter() - t0
    res["speedup_graph_vs_dynamic"] = res["dynamic"]["ms"] / res["static_graph"]["ms"]
    return res


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--batches", type=int, nargs="+", default=[8, 32, 128])
    ap.add_argument("--cap", type=int, default=16)
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    from gpu_step import full_size

    report: dict[str, Any] = {"env": env_part()}
    _save(args.out, report)
    model, processor = full_size("cuda")
    model.eval()
    try:
        report["vision"] = vision_part(model, processor)
    except Exception as err:  # keep the decode numbers even if this part fails
        report["vision"] = {"error": repr(err)}
    _save(args.out, report)
    for b in args.batches:
        try:
            report[f"decode_b{b}"] = decode_part(model, processor, b, args.cap)
        except Exception as err:
            report[f"decode_b{b}"] = {"error": repr(err)}
        _save(args.out, report)
    print(json.dumps(report["env"]))
    print("| part | ms | kernel ops | host syncs |\n|---|---|---|---|")
    for key, part in report.items():
        if key.startswith("decode_") and "error" not in part:
            for name in ("dynamic", "static_eager", "static_graph"):
                s = part[name]
                print(f"| {key} {name} | {s['ms']:.2f} | {s['ops']:.0f} | {s['syncs']:.2f} |")
    print(f"vision: {report['vision']}")
    return report


if __name__ == "__main__":
    main()
