"""Reasoning-mode embeddings: greedy rationale generation with a KV cache, then ``<emb>``.

One short decode loop serves generation (rationales for training, the perception probe) and the
reasoning-mode embedding. The batch is left-padded so every row's next token sits in the last
column. Each step feeds one token per row with explicit M-RoPE position ids (the cached step
cannot infer them, ml-stack-facts trap 2). A row that chooses ``<emb>`` is fed it in that same
step (its last-layer hidden state, L2-normalised, is the embedding) and then leaves the batch:
its rows of the KV cache are dropped, so later steps cost only the rows still writing. Rows
still writing at the cap get ``<emb>`` in one last cached step. Each embedding equals a full
forward over prompt + rationale + ``<emb>`` (``rationale_batch``) to float tolerance
(tests/unit/test_reasoning.py).

A row stops when it emits ``<emb>``. ``max_new_tokens`` counts generated tokens including
``<emb>`` (as ``generate`` does): a row that never emits it keeps ``max_new_tokens`` rationale
tokens and gets ``<emb>`` appended (``forced``). Vision placeholders and the padding token are
never generated (a generated ``<|image_pad|>`` breaks any later forward, trap 4).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from rge.data.records import Item
from rge.model.chat import IMAGE_PAD, _pad, build_batch
from rge.model.embed import move_batch
from rge.model.factory import emb_token_id

SUPPRESSED_TOKENS = (
    "<|image_pad|>",
    "<|video_pad|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
)
_PREFILL_KEYS = ("input_ids", "attention_mask", "pixel_values", "image_grid_thw")


@dataclass(frozen=True)
class Rationale:
    """A generated rationale (everything the model wrote before ``<emb>``)."""

    text: str  # decoded rationale, without <emb> (special tokens kept, so it re-tokenizes)
    token_ids: tuple[int, ...]  # generated ids before <emb> (excludes <emb>)
    n_tokens: int  # len(token_ids)
    forced: bool  # True when <emb> never came within max_new_tokens (it was appended)


def suppressed_ids(processor: Any) -> list[int]:
    """Ids greedy decoding must never pick: vision placeholders and the padding token."""
    tk = processor.tokenizer
    vocab = tk.get_vocab()
    ids = {vocab[t] for t in SUPPRESSED_TOKENS if t in vocab}
    if tk.pad_token_id is not None:
        ids.add(tk.pad_token_id)
    return sorted(ids)


class _Decoder:
    """Cached decoding state for one left-padded batch (prefill done in ``__init__``)."""

    def __init__(self, model: Any, batch: dict[str, torch.Tensor]) -> None:
        self.model = model
        self.mask = batch["attention_mask"]
        pos, deltas = model.model.get_rope_index(
            batch["input_ids"],
            mm_token_type_ids=batch["mm_token_type_ids"],
            image_grid_thw=batch.get("image_grid_thw"),
            attention_mask=self.mask,
        )
        # text positions continue from each row's largest position: pos = n_real - 1 + delta
        self.deltas = deltas.to(self.mask.device).view(-1)
        inputs = {k: batch[k] for k in _PREFILL_KEYS if k in batch}
        out = model.model(**inputs, position_ids=pos, use_cache=True)
        self.cache = out.cache
        self.last = out.last_hidden_state[:, -1]

    def step(self, tokens: torch.Tensor) -> torch.Tensor:
        """Feed one token per row; return the rows' last hidden states."""
        self.mask = F.pad(self.mask, (0, 1), value=1)
        pos = self.mask.sum(dim=1) - 1 + self.deltas
        out = self.model.model(
            input_ids=tokens[:, None],
            attention_mask=self.mask,
            position_ids=pos.view(1, -1, 1).expand(3, -1, 1),
            cache=self.cache,
            use_cache=True,
        )
        self.cache = out.cache
        self.last = out.last_hidden_state[:, -1]
        return self.last

    def keep(self, rows: torch.Tensor) -> None:
        """Keep only ``rows`` (indices into the current batch) in the cache and the state."""
        self.cache.batch_select_indices(rows)
        self.mask, self.deltas, self.last = self.mask[rows], self.deltas[rows], self.last[rows]

    def next_tokens(self, suppress: list[int]) -> torch.Tensor:
        """Greedy next token of every row from the last hidden state."""
        logits = self.model.lm_head(self.last).float()
        logits[:, suppress] = float("-inf")
        return logits.argmax(dim=-1)


def _decode(
    model: Any,
    processor: Any,
    items: list[Item],
    *,
    max_new_tokens: int,
    load_image: Callable[[str], Any] | None,
    embed: bool,
) -> tuple[list[Rationale], torch.Tensor | None]:
    """Generate rationales for one batch; with ``embed``, also the ``<emb>`` step's embeddings."""
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    tk = processor.tokenizer
    emb_id = emb_token_id(processor)
    suppress = suppressed_ids(processor)
    device = next(model.parameters()).device
    batch = build_batch(processor, items, emb=False, padding_side="left", load_image=load_image)
    batch.pop("labels")
    dec = _Decoder(model, move_batch(batch, device))
    n = len(items)
    live = torch.arange(n, device=device)  # original row of each row still decoding
    stopped = [False] * n
    generated: list[list[int]] = [[] for _ in range(n)]
    hidden = torch.empty((n, dec.last.shape[-1]), dtype=dec.last.dtype, device=device)
    for step in range(max_new_tokens):
        tokens = dec.next_tokens(suppress)
        stop = tokens == emb_id
        for row, tok, s in zip(live.tolist(), tokens.tolist(), stop.tolist(), strict=True):
            stopped[row] = s
            if not s:
                generated[row].append(tok)
        if embed:
            # a row that just chose <emb> is fed it now: that step's hidden state is its embedding
            last = dec.step(tokens)
            hidden[live[stop]] = last[stop]
        if step == max_new_tokens - 1:
            break
        keep = (~stop).nonzero().view(-1)
        if keep.numel() == 0:
            break
        live = live[keep]
        if keep.numel() < stop.numel():
            dec.keep(keep)  # finished rows leave the batch: later steps cost only the live ones
        if not embed:
            dec.step(tokens[keep])
    forced = [not s for s in stopped]
    rationales = [
        Rationale(tk.decode(ids, skip_special_tokens=False), tuple(ids), len(ids), f)
        for ids, f in zip(generated, forced, strict=True)
    ]
    if not embed:
        return rationales, None
    rows = torch.tensor([i for i in range(n) if forced[i]], dtype=torch.long, device=device)
    if rows.numel():
        # rows that never chose <emb> get it appended after their last rationale token
        if max_new_tokens:
            dec.keep((~stop).nonzero().view(-1))
        hidden[rows] = dec.step(
            torch.full((rows.numel(),), emb_id, dtype=torch.long, device=device)
        )
    return rationales, F.normalize(hidden.float(), dim=-1)


def _batched(
    model: Any,
    processor: Any,
    items: list[Item],
    *,
    max_new_tokens: int,
    batch_size: int,
    load_image: Callable[[str], Any] | None,
    embed: bool,
) -> tuple[list[Rationale], list[torch.Tensor]]:
    """Run ``_decode`` over ``items`` in chunks, in eval mode, restoring the training flag."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    was_training = model.training
    model.eval()
    rationales: list[Rationale] = []
    vecs: list[torch.Tensor] = []
    try:
        for i in range(0, len(items), batch_size):
            # the rope offsets stored on the model belong to some other call: never reuse them
            model.model.rope_deltas = None
            r, v = _decode(
                model,
                processor,
                items[i : i + batch_size],
                max_new_tokens=max_new_tokens,
                load_image=load_image,
                embed=embed,
            )
            rationales += r
            if v is not None:
                vecs.append(v.cpu())
    finally:
        model.model.rope_deltas = None
        model.train(was_training)
    return rationales, vecs


@torch.no_grad()
def generate_rationales(
    model: Any,
    processor: Any,
    items: list[Item],
    *,
    max_new_tokens: int,
    load_image: Callable[[str], Any] | None = None,
    batch_size: int | None = None,
) -> list[Rationale]:
    """Greedy rationales of ``items`` (input order), stopping per row at ``<emb>``.

    No grad, eval mode (the training flag is restored), batched with left padding and a KV
    cache; ``batch_size`` None runs all items as one batch.
    """
    if not items:
        return []
    size = batch_size or len(items)
    return _batched(
        model,
        processor,
        items,
        max_new_tokens=max_new_tokens,
        batch_size=size,
        load_image=load_image,
        embed=False,
    )[0]


@torch.no_grad()
def embed_reasoning(
    model: Any,
    processor: Any,
    items: list[Item],
    *,
    max_new_tokens: int,
    batch_size: int = 32,
    load_image: Callable[[str], Any] | None = None,
) -> tuple[torch.Tensor, list[Rationale]]:
    """Reasoning-mode embeddings (N, D) float32 on the CPU, unit norm, with their rationales.

    Generate greedily, force ``<emb>`` where it never came, feed ``<emb>`` in one cached step;
    its last-layer hidden state is the embedding (as a full forward over ``rationale_batch``).
    """
    if not items:
        return torch.zeros((0, model.config.text_config.hidden_size)), []
    rationales, vecs = _batched(
        model,
        processor,
        items,
        max_new_tokens=max_new_tokens,
        batch_size=batch_size,
        load_image=load_image,
        embed=True,
    )
    return torch.cat(vecs), rationales


def rationale_batch(
    processor: Any,
    items: list[Item],
    token_ids: Sequence[Sequence[int]],
    *,
    load_image: Callable[[str], Any] | None = None,
) -> dict[str, torch.Tensor]:
    """``build_batch`` with each response given as token ids (right-padded, ``<emb>`` appended).

    The exact generated ids, not a decode -> re-tokenize round trip (which may merge bytes
    differently): the batch ``forward`` needs to reproduce ``embed_reasoning`` and to put the LM
    loss on what the model actually wrote. Labels cover the ids and ``<emb>``.
    """
    if len(token_ids) != len(items):
        raise ValueError(f"{len(items)} items but {len(token_ids)} token id lists")
    prompts = build_batch(processor, items, emb=False, load_image=load_image)
    tail = [emb_token_id(processor)]
    rows = [
        (ids[mask.bool()].tolist(), [int(t) for t in resp] + tail)
        for ids, mask, resp in zip(
            prompts["input_ids"], prompts["attention_mask"], token_ids, strict=True
        )
    ]
    tk = processor.tokenizer
    batch = _pad(rows, tk.pad_token_id, "right")
    batch["mm_token_type_ids"] = (batch["input_ids"] == tk.convert_tokens_to_ids(IMAGE_PAD)).long()
    vision = {k: prompts[k] for k in ("pixel_values", "image_grid_thw") if k in prompts}
    return {**batch, **vision}
