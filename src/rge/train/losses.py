"""Pure training losses: in-batch InfoNCE (paper eq. 2) and the token-weighted LM mean (eq. 8).

Cross-device negatives go through an injectable ``gather_fn`` so that the multi-GPU path is
testable on a CPU: a fake gather that concatenates the shards of one big batch must give the
same loss as that big batch (tests/unit/test_train_losses.py).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F

# gather_fn(x) -> (x gathered over all ranks along dim 0, index of this rank's first row in it)
GatherFn = Callable[[torch.Tensor], tuple[torch.Tensor, int]]


def local_gather(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """The single-process gather: the tensor itself, starting at row 0."""
    return x, 0


class _AllGather(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient for this rank's rows."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        ctx.rank, ctx.rows = dist.get_rank(), x.shape[0]
        parts = [torch.empty_like(x) for _ in range(dist.get_world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        import torch.distributed as dist

        grad = grad.contiguous()
        dist.all_reduce(grad)  # every rank's loss depends on our rows: sum their gradients
        return grad[ctx.rank * ctx.rows : (ctx.rank + 1) * ctx.rows]


def dist_gather(x: torch.Tensor) -> tuple[torch.Tensor, int]:
    """Gather ``x`` from every rank of the default process group, keeping gradients.

    The backward sums the gradients of every rank's loss back onto the owning rank, so
    averaging the rank losses (what DDP/DeepSpeed do to gradients) equals the loss of one big
    batch. Every rank must pass the same number of rows.
    """
    import torch.distributed as dist

    return _AllGather.apply(x), dist.get_rank() * x.shape[0]


def info_nce(
    q: torch.Tensor,
    t: torch.Tensor,
    *,
    temperature: float,
    negs: torch.Tensor | None = None,
    gather_fn: GatherFn = local_gather,
) -> torch.Tensor:
    """In-batch InfoNCE of queries against their positives (paper eq. 2).

    Query i's positive is ``t[i]``; its negatives are every other gathered positive plus every
    gathered hard negative. Hard negatives form one shared pool of extra columns (each query
    sees all of them, as in-batch negatives are shared too), so pairs may bring different
    numbers of negatives. Inputs are expected L2-normalised, so the dot product is the cosine.

    Args:
        q: (B, D) query embeddings of this rank.
        t: (B, D) positive target embeddings of this rank, row-aligned with ``q``.
        temperature: softmax temperature tau (paper: 0.03); logits are cos / tau.
        negs: optional (M, D) hard-negative embeddings of this rank (M may be 0).
        gather_fn: gathers a tensor over ranks, returning (all rows, offset of this rank).

    Returns:
        The mean over this rank's queries of -log softmax at the positive: a scalar in the
        dtype of ``q @ t.T``, on ``q``'s device, with grad through q, t and negs.

    Raises:
        ValueError: q and t not both (B, D), negs not (M, D), or temperature <= 0.
    """
    if q.ndim != 2 or q.shape != t.shape:
        raise ValueError(
            f"info_nce: q and t must both be (B, D); got {tuple(q.shape)}, {tuple(t.shape)}"
        )
    if temperature <= 0:
        raise ValueError(f"info_nce: temperature must be > 0, got {temperature}")
    all_t, offset = gather_fn(t)
    cands = [all_t]
    if negs is not None:
        if negs.ndim != 2 or negs.shape[1] != q.shape[1]:
            raise ValueError(f"info_nce: negs must be (M, {q.shape[1]}); got {tuple(negs.shape)}")
        cands.append(gather_fn(negs)[0])
    logits = q @ torch.cat(cands, dim=0).T / temperature
    # Query i's positive sits at row offset + i of the gathered targets: this rank's block
    # starts at ``offset``; the hard negatives are appended after all targets, never labels.
    labels = torch.arange(q.shape[0], device=q.device) + offset
    return F.cross_entropy(logits, labels)


def lm_mean(
    loss_sums: Sequence[torch.Tensor | float], counts: Sequence[torch.Tensor | int]
) -> torch.Tensor:
    """Token-weighted mean LM loss over several forwards (our reading of paper eq. 8).

    L_LM-bar is read as the mean negative log-likelihood over *all* supervised tokens of all
    forwards in the step (query side: rationale + ``<emb>``; target side: ``<emb>``): each token
    weighs the same, so a long rationale counts more than a lone ``<emb>``, and no side or
    sequence is averaged first. With no supervised token at all the loss is 0.

    Args:
        loss_sums: per forward, the summed token NLL (tensors keep their gradient).
        counts: per forward, the number of supervised tokens in that sum.

    Returns:
        sum(loss_sums) / sum(counts), a scalar tensor (0 when the count is 0).
    """
    if len(loss_sums) != len(counts):
        raise ValueError(f"lm_mean: {len(loss_sums)} loss sums but {len(counts)} counts")
    # start the sum at the first term so the result stays on the loss's device
    total = torch.as_tensor(
        sum(loss_sums[1:], loss_sums[0]) if loss_sums else 0.0, dtype=torch.float32
    )
    n = int(sum(int(c) for c in counts))
    return total / n if n > 0 else total * 0.0
