"""Turn items (+ optional responses) into the model's input tensors in the RGE sequence format.

Source: paper §3.2 (sequence format, labels) and the release's training and evaluation input
code (MCG-NJU/RGE @6074444: ``src/collator.py``, ``src/processing_message.py``,
``src/dataset.py``), checked token for token on the real vocabulary
(``tests/unit/test_model_chat_qwen.py``).

One sequence per item (Qwen2.5-VL chat layout, as the RGE release builds it)::

    <|im_start|>system\\n{SYSTEM}<|im_end|>\\n<|im_start|>user\\n
    {text, its <|image_1|> marker replaced by <|vision_start|><|image_pad|> x n<|vision_end|>}
    <|im_end|>\\n<|im_start|>assistant\\n{response}<emb>

Image placement: a text that carries the MMEB marker ``<|image_1|>`` gets the image block in
the marker's place (the release at evaluation); a text with an image but no marker gets the
image first (the release at training: ``rge.data.protocol.train_pairs`` removes the marker);
a marker without an image is dropped. The text is used exactly as given: no stripping (the
``\\n`` after the marker and the protocol's trailing ``\\n`` are real tokens, e.g. ``.\\n`` is
one token where ``.`` is another).

Plain text stays plain: only the chat template's own markers, the image block and the final
``<emb>`` are special tokens. Every part that comes from data (item text, response) is
tokenized with special-token splitting off, so a caption containing ``<emb>`` or
``<|im_end|>`` is ordinary text. The template's markers split the sequence into segments that
are tokenized on their own, which is what the tokenizer does with a whole string anyway
(added tokens always end a BPE segment), so the ids equal those of the whole prompt string
whenever the data holds no special-token text.

Nothing follows ``<emb>`` (it ends the sequence the way an end-of-turn token would). LM labels
cover the response and ``<emb>`` only. The prompt and the response are tokenized separately,
so the label boundary is exact whatever the tokenizer merges.

A change to the token sequence built here must bump ``rge.data.protocol.FORMAT_VERSION`` (the
embedding cache keys on it).
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
VISION_START = "<|vision_start|>"
VISION_END = "<|vision_end|>"
IM_START = "<|im_start|>"
IM_END = "<|im_end|>"

Segment = tuple[str, bool]  # (text, is_special): specials are single template tokens


def prompt_segments(text: str, n_image_tokens: int) -> list[Segment]:
    """The chat prompt up to and including the assistant header, as (piece, is_special).

    Args:
        text: the item's text, used as is (see the module docstring for the image marker).
        n_image_tokens: merged image tokens of the item's image; 0 = no image.

    Returns:
        Pieces in order; adjacent plain pieces are merged, each special piece is one token.
    """
    if n_image_tokens < 0:
        raise ValueError(f"n_image_tokens must be >= 0, got {n_image_tokens}")
    vision: list[Segment] = []
    before, after = "", text.replace(IMAGE_TOKEN, "")
    if n_image_tokens:
        vision = [(VISION_START, True), *[(IMAGE_PAD, True)] * n_image_tokens, (VISION_END, True)]
        if IMAGE_TOKEN in text:
            head, tail = text.split(IMAGE_TOKEN, 1)
            before, after = head.replace(IMAGE_TOKEN, ""), tail.replace(IMAGE_TOKEN, "")
    pieces: list[Segment] = [
        (IM_START, True), (f"system\n{SYSTEM}", False), (IM_END, True), ("\n", False),
        (IM_START, True), (f"user\n{before}", False), *vision, (after, False),
        (IM_END, True), ("\n", False), (IM_START, True), ("assistant\n", False),
    ]  # fmt: skip
    return _merge(pieces)


def _merge(pieces: list[Segment]) -> list[Segment]:
    out: list[Segment] = []
    for piece, special in pieces:
        if not special and not piece:
            continue
        if out and not special and not out[-1][1]:
            out[-1] = (out[-1][0] + piece, False)
        else:
            out.append((piece, special))
    return out


def prompt_text(text: str, n_image_tokens: int) -> str:
    """The chat prompt as one string (for display and logs; tokenize with ``prompt_ids``)."""
    return "".join(piece for piece, _ in prompt_segments(text, n_image_tokens))


def plain_ids(tokenizer: Any, texts: Sequence[str]) -> list[list[int]]:
    """Token ids of data text with special-token splitting off: ``"<emb>"`` stays 5 characters.

    Args:
        tokenizer: a transformers tokenizer.
        texts: the strings (may be empty).

    Returns:
        One id list per string (no BOS/EOS added).
    """
    if not texts:
        return []
    out = tokenizer(list(texts), add_special_tokens=False, split_special_tokens=True)
    return [list(ids) for ids in out["input_ids"]]


def prompt_ids(
    tokenizer: Any, texts: Sequence[str], n_image_tokens: Sequence[int]
) -> list[list[int]]:
    """Token ids of ``prompt_segments`` for each (text, image-token count).

    Template markers map to their ids; plain pieces are tokenized with :func:`plain_ids` in one
    tokenizer call for the whole batch.

    Raises:
        KeyError: the tokenizer lacks one of the template's special tokens.
    """
    segments = [prompt_segments(t, n) for t, n in zip(texts, n_image_tokens, strict=True)]
    plain = iter(plain_ids(tokenizer, [p for segs in segments for p, sp in segs if not sp]))
    special = {}
    for tok in (IM_START, IM_END, VISION_START, VISION_END, IMAGE_PAD):
        special[tok] = tokenizer.convert_tokens_to_ids(tok)
        if special[tok] is None or special[tok] == tokenizer.unk_token_id:
            raise KeyError(f"tokenizer has no special token {tok!r}")
    rows = []
    for segs in segments:
        ids: list[int] = []
        for piece, sp in segs:
            ids += [special[piece]] if sp else next(plain)
        rows.append(ids)
    return rows


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
    """Tokenize ``items`` (+ ``responses``) into one padded batch (paper §3.2 sequence format).

    Args:
        processor: a Qwen2.5-VL processor whose tokenizer knows ``<emb>``.
        items: the items; their text is used as given (apply ``rge.data.protocol`` first).
        responses: one rationale per item (plain text), or None for none.
        emb: append ``<emb>`` (labelled) after the response.
        padding_side: "right" (training) or "left" (generation).
        load_image: ``load_image(path)``, default ``rge.data.images.load_image``.

    Returns:
        ``input_ids``, ``attention_mask``, ``labels`` (-100 except response and ``<emb>``),
        ``mm_token_type_ids`` (1 on image tokens), all (B, L) int64, and, when any item has an
        image, ``pixel_values`` (P, C) float32 and ``image_grid_thw`` (N_images, 3) int64
        (absent for an all-text batch).

    Raises:
        ValueError: bad ``padding_side``, no items, or responses not one per item.
        KeyError: the tokenizer lacks ``<emb>`` or a template token.
    """
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    if responses is not None and len(responses) != len(items):
        raise ValueError(f"{len(items)} items but {len(responses)} responses")
    if not items:
        raise ValueError("build_batch needs at least one item")
    tk = processor.tokenizer
    vision, n_tokens = _images(processor, items, load_image)
    ids = prompt_ids(tk, [it.text for it in items], n_tokens)
    resp = responses if responses is not None else [""] * len(items)
    resp_ids = plain_ids(tk, list(resp))
    tail = [emb_token_id(processor)] if emb else []
    rows = [(p, r + tail) for p, r in zip(ids, resp_ids, strict=True)]
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
