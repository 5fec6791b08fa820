"""Produce the backbone every run starts from, with ``<emb>`` in its tokenizer.

``source: tiny`` (embedded study): build the tiny Qwen2.5-VL, pretrain it on freshly rendered
synthetic scenes so that it can see — (1) vision warm-up with a temporary left/right colour+shape
head, (2) captioning with the LM loss on ``describe_scene`` — then (3) run the perception probe:
greedy descriptions of held-out scenes scored per attribute under the captioning prompt, and
(4) the prompt probe (issue 12 item 1): all-four-correct descriptions under prompts of three
other lengths and every evaluation task's query, gated on the minimum over the in-domain image
prompts. A probe below the threshold logs a loud WARNING and writes ``"passed": false``; the
stage does not fail.
``source: hub`` (paper study): load ``name``@``revision``, add ``<emb>``, save; no probe is run.
The flow is ``rge.backbone.pretrain.build_backbone``.

Config keys read (the ``backbone`` slice, as ``rge.config.BackboneView``; defaults in the schema):
    source            "tiny" | "hub"
    name, revision    hub id or local dir, and its revision ("none" = default) [hub]
    dtype             torch dtype name for loading, e.g. "bfloat16" [hub]
    min_pixels, max_pixels  image processor pixel bounds
    seed              build and training seed
    tiny              tiny architecture spec (keys of rge.model.factory.TINY_DEFAULTS) [tiny]
    pretrain          [tiny] ``rge.config.PretrainView``:
        warmup_steps, warmup_lr, warmup_batch            vision warm-up (steps 0 skips it)
        warmup_ramp, warmup_min_lr_ratio                 its linear ramp, then cosine decay
        caption_steps, caption_batch                     captioning
        caption_prompts     "fixed" (one prompt; default, absent from the slice) | "varied"
        prompt_protocol     evaluate.prompt_protocol, in the slice with varied prompts only:
                            how the prompt probe shows the task queries (else "mmeb")
        caption_lr_vision, caption_lr_text               AdamW lrs: vision tower+merger / rest
        caption_warmup, caption_min_lr_ratio             linear warm-up, then cosine to ratio x lr
        probe_scenes, probe_threshold                    held-out scenes; per-attribute
                                                         minimum and the prompt-probe gate
        probe_batch, probe_max_new_tokens, probe_examples
        image_size                                       scene side in pixels
    Not config keys (the view's defaults): attn_implementation ("sdpa") [hub], threads (torch
    intra-op threads; none = torch's default).

Inputs: ``scenes`` (optional): the ``make_synthetic`` output. When given, pretraining draws from
the benchmark's own training scenes (``scenes/train/*.jsonl``) and the probe describes its
evaluation scenes (``scenes/eval/*.jsonl``, held out from training); the prompt probe also reads
each task's queries (``MMEB-eval``) and the benchmark's prompt tables. Without it both draw
fresh scenes from the seed and the prompt probe has only the instruction prompts.
Outputs: ``model`` (directory, safetensors + processor), ``report`` (JSON).
"""

from __future__ import annotations

from rge.backbone.pretrain import build_backbone
from rge.config import BackboneView
from rge.io import write_json
from rge.stages._cli import Paths, stage_main


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Stage entry point (see the module docstring for keys, inputs and outputs)."""
    view = BackboneView.from_slice(cfg)
    report = build_backbone(view, outputs.model, inputs.get("scenes"))
    write_json(outputs.report, report)
    return report


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
