"""Gradient cache: a contrastive batch of any size in the memory of one chunk.

InfoNCE couples every query with every candidate of the batch, so the batch cannot simply be
split into micro-batches. The gradient cache (Gao et al., 2021) splits the *parameter* work
instead:

1. ``embed_pass``: embed every chunk without grad and keep only the embeddings.
2. ``embedding_grads``: compute the contrastive loss on the full batch of (detached) embeddings
   and its gradient w.r.t. each embedding; this needs only B x D numbers.
3. ``grad_pass``: re-forward each chunk with grad and back-propagate the surrogate
   ``sum_k (emb_k * grad_k).sum() + extra``, whose parameter gradient is exactly that chunk's
   share of the full-batch gradient. ``extra`` is a chunk's own additive loss term (e.g. its
   token-weighted LM contribution), already weighted so that the chunk terms sum to the
   no-cache loss.

Peak activation memory is one chunk's; the cost is one extra no-grad forward per chunk.

Randomness: pass 2 must see the same dropout masks as pass 1, or the cached gradients belong to
other embeddings. ``embed_pass`` records the torch RNG state (CPU and CUDA) before each chunk and
``grad_pass`` replays it; afterwards the state is where pass 1 left it. (The tiny and the
Qwen2.5-VL configs have no dropout, so this only matters for models that do.) Each chunk's
embedding forwards must therefore run first and in the same order in both passes; forwards
that only feed ``extra`` come after them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

import torch

T = TypeVar("T")


@dataclass
class Encoded:
    """What encoding one chunk produced.

    Attributes:
        embs: named embedding blocks (e.g. ``q``, ``t``, ``n``), rows in chunk order; the blocks
            of all chunks are concatenated per name for the loss.
        extra: a scalar added to the loss as it is (carries its gradient), e.g. the chunk's
            weighted LM share; None when the chunk adds nothing.
        stats: numbers about the chunk (e.g. supervised token count), summed over chunks.
    """

    embs: dict[str, torch.Tensor]
    extra: torch.Tensor | None = None
    stats: dict[str, float] = field(default_factory=dict)


@dataclass
class CachedResult:
    """The value of the full-batch loss and its parts after a cached backward."""

    loss: float  # contrastive part + sum of extras
    con: float | None  # the ``loss_fn`` value (None without a loss_fn)
    extra: float  # sum of the chunks' extras
    stats: dict[str, float]  # chunk stats summed over chunks


def chunked(seq: Sequence[T], size: int) -> list[Sequence[T]]:
    """Consecutive slices of ``seq`` of ``size`` items (the last may be shorter)."""
    if size < 1:
        raise ValueError(f"chunk size must be >= 1, got {size}")
    return [seq[i : i + size] for i in range(0, len(seq), size)]


def _rng_state() -> tuple[torch.Tensor, list[torch.Tensor] | None]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    return torch.get_rng_state(), cuda


def _set_rng_state(state: tuple[torch.Tensor, list[torch.Tensor] | None]) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state_all(state[1])


def embed_pass(
    chunks: Sequence[T], encode: Callable[[T, bool], Encoded]
) -> tuple[dict[str, torch.Tensor], list[Any]]:
    """Pass 1: embeddings of every chunk without grad, and the RNG state before each chunk.

    ``encode(chunk, with_extra)`` is called with ``with_extra=False`` (skip work that only feeds
    ``extra``). Returns the per-name concatenated embeddings (detached) and the RNG states.
    """
    states, parts = [], []
    with torch.no_grad():
        for chunk in chunks:
            states.append(_rng_state())
            parts.append(encode(chunk, False).embs)
    names = list(parts[0]) if parts else []
    embs = {k: torch.cat([p[k] for p in parts]) for k in names}
    return embs, states


def embedding_grads(
    embs: dict[str, torch.Tensor], loss_fn: Callable[[dict[str, torch.Tensor]], torch.Tensor]
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Loss on the full batch of embeddings and its gradient w.r.t. every embedding block."""
    # Fresh leaves: the loss's graph stops at the embeddings, so this backward touches no
    # parameter and costs only B x D memory, whatever the model.
    leaves = {k: v.detach().requires_grad_() for k, v in embs.items()}
    loss = loss_fn(leaves)
    names = list(leaves)
    # allow_unused: a block the loss ignores (e.g. an empty hard-negative block) gets a zero
    # gradient instead of an error, so pass 2 can treat every block alike.
    grads = torch.autograd.grad(loss, [leaves[k] for k in names], allow_unused=True)
    pairs = zip(names, grads, strict=True)
    out = {k: g if g is not None else torch.zeros_like(leaves[k]) for k, g in pairs}
    return loss.detach(), out


def grad_pass(
    chunks: Sequence[T],
    encode: Callable[[T, bool], Encoded],
    grads: dict[str, torch.Tensor],
    *,
    states: list[Any] | None,
    backward: Callable[[torch.Tensor], None],
) -> tuple[float, dict[str, float]]:
    """Pass 2: re-forward each chunk with grad and back-propagate its surrogate.

    Args:
        chunks, encode: as for ``embed_pass`` (called here with ``with_extra=True``).
        grads: per-name gradients of the loss w.r.t. the concatenated embeddings.
        states: RNG states from ``embed_pass`` (replayed per chunk), or None (no replay).
        backward: runs the backward of a scalar (``Tensor.backward`` or a DeepSpeed engine's).

    Returns:
        The summed ``extra`` values and the summed chunk stats.
    """
    offsets = dict.fromkeys(grads, 0)
    extra_total, stats = 0.0, {}
    # Pass 1 left the RNG here; restoring it after the replays makes a cached step consume
    # randomness exactly like pass 1 alone, so a resumed run draws the same numbers.
    end_state = _rng_state()
    for i, chunk in enumerate(chunks):
        if states is not None:
            _set_rng_state(states[i])
        enc = encode(chunk, True)
        surrogate = torch.zeros((), device=_device(enc, grads))
        for k, e in enc.embs.items():
            # d/dtheta sum(e * g) = sum_i g_i * de_i/dtheta with g held constant: by the chain
            # rule exactly this chunk's share of dL/dtheta, because g = dL/de was taken on the
            # full batch. Chunks are consumed in pass-1 order, so the row offsets line up.
            g = grads[k][offsets[k] : offsets[k] + e.shape[0]]
            offsets[k] += e.shape[0]
            # g is float32 from the loss; cast to the embedding's dtype/device (bf16 models,
            # other ranks) so the product is formed where the embedding lives.
            surrogate = surrogate + (e * g.to(e.device, e.dtype)).sum()
        if enc.extra is not None:
            surrogate = surrogate + enc.extra
            extra_total += float(enc.extra.detach())
        # A chunk with nothing trainable in it (e.g. all parameters frozen on this path) has a
        # constant surrogate; backward on it would raise, and there is nothing to accumulate.
        if surrogate.requires_grad:
            backward(surrogate)
        for k, v in enc.stats.items():
            stats[k] = stats.get(k, 0.0) + float(v)
    _set_rng_state(end_state)
    short = {k: (offsets[k], grads[k].shape[0]) for k in grads if offsets[k] != grads[k].shape[0]}
    if short:
        raise RuntimeError(
            f"gradient cache: pass 2 rows differ from pass 1 (rows, expected): {short}"
        )
    return extra_total, stats


def _device(enc: Encoded, grads: dict[str, torch.Tensor]) -> torch.device:
    for t in [*enc.embs.values(), enc.extra, *grads.values()]:
        if t is not None:
            return t.device
    return torch.device("cpu")


def cached_backward(
    chunks: Sequence[T],
    encode: Callable[[T, bool], Encoded],
    loss_fn: Callable[[dict[str, torch.Tensor]], torch.Tensor] | None,
    *,
    backward: Callable[[torch.Tensor], None] = torch.Tensor.backward,
    replay_rng: bool = True,
) -> CachedResult:
    """Back-propagate ``loss_fn(all embeddings) + sum(chunk extras)`` chunk by chunk.

    The parameter gradients equal those of one forward over the whole batch followed by
    ``backward`` of the same loss (up to float rounding). Without a ``loss_fn`` (an LM-only
    objective) pass 1 is skipped and this is plain gradient accumulation over the chunks.

    Args:
        chunks: the batch split into chunks (e.g. ``chunked(pairs, size)`` with aligned extras).
        encode: ``encode(chunk, with_extra) -> Encoded``; deterministic given the RNG state.
        loss_fn: the coupled loss of the full batch, from named embedding blocks.
        backward: how to back-propagate a scalar (default ``Tensor.backward``).
        replay_rng: replay pass 1's RNG state in pass 2 (needed with dropout).

    Returns:
        Loss value, contrastive part, extras and summed stats.
    """
    if loss_fn is None:
        extra, stats = grad_pass(chunks, encode, {}, states=None, backward=backward)
        return CachedResult(loss=extra, con=None, extra=extra, stats=stats)
    embs, states = embed_pass(chunks, encode)
    con, grads = embedding_grads(embs, loss_fn)
    extra, stats = grad_pass(
        chunks, encode, grads, states=states if replay_rng else None, backward=backward
    )
    return CachedResult(loss=float(con) + extra, con=float(con), extra=extra, stats=stats)
