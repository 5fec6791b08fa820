"""One RGE step and one baseline step of a full-size Qwen2.5-VL-3B on one GPU: time and peak memory.

The architecture is ``config/models/qwen2_5_vl_3b.json`` (the hub config's values), randomly
initialised in bf16 on CUDA (no download). The tokenizer and processor are the embedded
study's local ones; the model's special-token ids are pointed at that tokenizer's ids while
the vocabulary keeps its full 151,936 rows, so embedding and LM-head costs are the real ones.
Per-device batch 8 with the gradient cache (chunks of ``--chunk-size``), synthetic 448x448
scene images (256 image tokens each), self rationales capped at ``--max-new-tokens`` (a random
model never writes ``<emb>``, so every row runs to the cap: the worst case). Plain AdamW on the
bf16 weights (no fp32 master copy, no DeepSpeed) and activation checkpointing off. Parts:
generation, forwards, backward, optimizer, other; peak = ``torch.cuda.max_memory_allocated``
inside each part (weights, gradients and optimizer state included).

    python benchmarks/gpu_step.py [--batch-size 8] [--chunk-size 4] [--max-new-tokens 32]
    python benchmarks/gpu_step.py --cpu-tiny      # the same code on the CPU, tiny model

The last line printed is ``ratio: X.XX`` (RGE step time / baseline step time).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from train_step import measure, rge_objectives, scene_pairs, table  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def full_size(device: str) -> tuple[Any, Any]:
    """Random-init Qwen2.5-VL-3B (bf16, on ``device``) wired to the local tokenizer + <emb>."""
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    from rge.model import tokenizer as tok
    from rge.model.factory import EMB_TOKEN, make_processor, tok_ids

    spec = json.loads((ROOT / "config" / "models" / "qwen2_5_vl_3b.json").read_text())
    tokenizer = tok.train_tokenizer(512)
    tokenizer.add_tokens([EMB_TOKEN], special_tokens=True)
    processor = make_processor(tokenizer, min_pixels=448 * 448, max_pixels=448 * 448)
    ids = tok_ids(tokenizer)
    spec.update(
        image_token_id=ids["image"], video_token_id=ids["video"],
        vision_start_token_id=ids["vision_start"], vision_end_token_id=ids["vision_end"],
        bos_token_id=ids["pad"], eos_token_id=ids["eos"], pad_token_id=ids["pad"],
    )  # fmt: skip
    cfg = Qwen2_5_VLConfig(**{k: v for k, v in spec.items() if not k.startswith("_")})
    cfg.emb_token_id = tokenizer.convert_tokens_to_ids(EMB_TOKEN)
    torch.manual_seed(0)
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.bfloat16)
    try:
        with torch.device(device):
            model = Qwen2_5_VLForConditionalGeneration(cfg)
    finally:
        torch.set_default_dtype(old)
    model.config.use_cache = False
    return model, processor


def tiny(device: str) -> tuple[Any, Any]:
    """The embedded study's tiny backbone (fp32) for the CPU dry run."""
    from rge.model.factory import build_tiny

    model, processor = build_tiny({}, seed=0, min_pixels=56 * 56, max_pixels=112 * 112)
    return model.to(device), processor


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--chunk-size", type=int, default=4)
    ap.add_argument("--max-new-tokens", type=int, default=32)
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--cpu-tiny", action="store_true", help="dry run: tiny model on the CPU")
    args = ap.parse_args(argv)
    from rge.train.objectives import BaselineObjective

    if args.cpu_tiny:
        device, size = "cpu", 112
        model, processor = tiny(device)
        args.steps = 1
    else:
        if not torch.cuda.is_available():
            raise SystemExit("gpu_step: no CUDA device (use --cpu-tiny for the CPU dry run)")
        device, size = "cuda", 448
        model, processor = full_size(device)
    n_params = sum(p.numel() for p in model.parameters())
    with tempfile.TemporaryDirectory() as tmp:
        pairs, oracle = scene_pairs(Path(tmp), args.batch_size, size=size)
        makers = {
            "baseline": lambda: BaselineObjective(chunk_size=args.chunk_size, temperature=0.03)
        }
        # the old generation loop ("rge q_self") beside the static engine
        makers |= rge_objectives(
            oracle, args.chunk_size, args.max_new_tokens, alpha_lm=1, alpha_con=10, temperature=0.03
        )
        results = {n: measure(m, model, processor, pairs, steps=args.steps)
                   for n, m in makers.items()}  # fmt: skip
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    print(
        f"{'tiny' if args.cpu_tiny else 'Qwen2.5-VL-3B'} ({n_params / 1e6:.1f} M params, random "
        f"init, {next(model.parameters()).dtype}) on {name}; per-device batch {args.batch_size}, "
        f"gradient cache chunk {args.chunk_size}, images {size}x{size}, max_new_tokens "
        f"{args.max_new_tokens} (every row hits the cap), AdamW, median of {args.steps} step(s) "
        "after one warm-up"
    )
    print(table(results, memory=device == "cuda"))
    gen = (
        results["rge q_self"]["ms"]["generation"] / results["rge q_self static"]["ms"]["generation"]
    )
    print(f"generation speedup: {gen:.2f} (dynamic / static engine)")
    ratio = results["rge q_self"]["ms"]["total"] / results["baseline"]["ms"]["total"]
    print(f"ratio: {ratio:.2f}")
    return {"results": results, "ratio": ratio, "params": n_params, "generation_speedup": gen}


if __name__ == "__main__":
    main()
