"""Turn items (+ optional responses) into the model's input tensors in the RGE sequence format.

One sequence per item::

    <|im_start|>system\\n{SYSTEM}<|im_end|>\\n<|im_start|>user\\n
    [<|vision_start|><|image_pad|> x n<|vision_end|>]{text}<|im_end|>\\n<|im_start|>assistant\\n
    {response}<emb>

The image comes first, then the text with the MMEB image marker removed. Nothing follows
``<emb>`` (it ends the sequence the way an end-of-turn token would). LM labels cover the
response and ``<emb>`` only. The prompt and the response are tokenized separately, so the label
boundary is exact whatever the tokenizer merges.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from rge.data.records import IMAGE_TOKEN, Item
from rge.model.factory import emb_token_id

IGNORE = -100
SYSTEM = "You are a helpful assistant."
IMAGE_PAD = "<|image_pad|>"


def prompt_text(text: str, n_image_tokens: int) -> str:
    """The chat prompt up to and including the assistant header (image pads expanded)."""
    vision = f"<|vision_start|>{IMAGE_PAD * n_image_tokens}<|vision_end|>" if n_image_tokens else ""
    user = text.replace(IMAGE_TOKEN, "").strip()
    return (
        f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n{vision}{user}<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


def _images(
    processor: Any, items: Sequence[Item], load_image: Callable[[str], Any] | None
) -> tuple[dict[str, torch.Tensor], list[int]]:
    """Process the items' images; return processor outputs and image-token counts per item."""
    paths = [it.image for it in items if it.image]
    if not paths:
        return {}, [0] * len(items)
    if load_image is None:
        from rge.data.images import load_image
    out = processor.image_processor(images=[load_image(p) for p in paths], return_tensors="pt")
    merge = processor.image_processor.merge_size
    counts = iter((out["image_grid_thw"].prod(-1) // merge**2).tolist())
    n_tokens = [next(counts) if it.image else 0 for it in items]
    return {"pixel_values": out["pixel_values"], "image_grid_thw": out["image_grid_thw"]}, n_tokens


def build_batch(
    processor: Any,
    items: list[Item],
    responses: list[str] | None = None,
    *,
    emb: bool = True,
    padding_side: str = "right",
    load_image: Callable[[str], Any] | None = None,
) -> dict[str, torch.Tensor]:
    """Tokenize ``items`` (+ ``responses``) into one padded batch.

    Returns ``input_ids``, ``attention_mask``, ``labels`` (-100 except response and ``<emb>``),
    ``mm_token_type_ids`` (1 on image tokens) and, when any item has an image, ``pixel_values``
    and ``image_grid_thw`` (absent for an all-text batch). ``load_image(path)`` defaults to
    ``rge.data.images.load_image``.
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    if responses is not None and len(responses) != len(items):
        raise ValueError(f"{len(items)} items but {len(responses)} responses")
    if not items:
        raise ValueError("build_batch needs at least one item")
    tk = processor.tokenizer
    vision, n_tokens = _images(processor, items, load_image)
    prompts = [prompt_text(it.text, n) for it, n in zip(items, n_tokens, strict=True)]
    resp = responses if responses is not None else [""] * len(items)
    prompt_ids = tk(prompts, add_special_tokens=False)["input_ids"]
    resp_ids = tk(list(resp), add_special_tokens=False)["input_ids"]
    tail = [emb_token_id(processor)] if emb else []
    rows = [(p, r + tail) for p, r in zip(prompt_ids, resp_ids, strict=True)]
    batch = _pad(rows, tk.pad_token_id, padding_side)
    image_id = tk.convert_tokens_to_ids(IMAGE_PAD)
    batch["mm_token_type_ids"] = (batch["input_ids"] == image_id).long()
    return {**batch, **vision}


def _pad(
    rows: list[tuple[list[int], list[int]]], pad_id: int, side: str
) -> dict[str, torch.Tensor]:
    """Pad (prompt, supervised) id lists into input_ids / attention_mask / labels."""
    width = max(len(p) + len(s) for p, s in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    labels = torch.full((len(rows), width), IGNORE, dtype=torch.long)
    for i, (p, s) in enumerate(rows):
        n = len(p) + len(s)
        start = 0 if side == "right" else width - n
        ids[i, start : start + n] = torch.tensor(p + s, dtype=torch.long)
        mask[i, start : start + n] = 1
        if s:
            labels[i, start + len(p) : start + n] = torch.tensor(s, dtype=torch.long)
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}
