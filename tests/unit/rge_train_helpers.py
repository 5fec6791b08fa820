"""Test helpers for the RGE training tests: oracle rationales for scene pairs, a deterministic
rationale generator, parameter gradients of one objective step, and a thread-based 2-rank
process group whose gather behaves like ``rge.train.losses.dist_gather``."""

from __future__ import annotations

import copy
import threading
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from rge.data.records import TrainPair
from rge.model.reasoning import Rationale
from rge.rationale.store import FIELDS
from rge.train.objectives import StepOutput

_SELF_TEXTS = ("left is red .", "the right one is a blue square", "ok")


def oracle_for(pairs: Sequence[TrainPair]) -> dict[str, str]:
    """An oracle rationale per pair key (lengths differ between pairs)."""
    return {p.key: f"the {p.subset} one is {p.pos.text.split()[1]} ." * (1 + i % 2)
            for i, p in enumerate(pairs)}  # fmt: skip


def rationale_rows(pairs: Sequence[TrainPair]) -> list[dict]:
    """``oracle_for`` as rationale-store rows (the JSONL schema)."""
    rows = []
    for key, text in oracle_for(pairs).items():
        row = dict.fromkeys(FIELDS)
        row.update(key=key, subset=key.split("/")[0], rationale=text, backend="scene",
                   model="test", sampling={}, seed=0, prompt_id="t", prompt_hash="0")  # fmt: skip
        rows.append(row)
    return rows


def fixed_generator(calls: list | None = None):
    """A ``generate_rationales`` stand-in: a fixed rationale chosen by a hash of the item."""

    def generate(model, processor, items, *, max_new_tokens, batch_size=None, load_image=None):
        if calls is not None:
            calls.append((len(items), max_new_tokens, batch_size))
        out = []
        for it in items:
            # the image's file name, not its path: pytest's tmp dirs differ between runs
            h = zlib.crc32(f"{it.text}|{Path(it.image).name if it.image else ''}".encode())
            text = _SELF_TEXTS[h % len(_SELF_TEXTS)]
            full = processor.tokenizer(text, add_special_tokens=False)["input_ids"]
            ids = full[:max_new_tokens]  # cut at the cap: <emb> would have been forced
            out.append(Rationale(text=text, token_ids=tuple(ids), n_tokens=len(ids),
                                 forced=len(full) >= max_new_tokens))  # fmt: skip
        return out

    return generate


def step_grads(
    model: torch.nn.Module, objective: Any, processor: Any, pairs: Sequence[TrainPair]
) -> tuple[StepOutput, dict[str, torch.Tensor]]:
    """Run one objective step on a copy of ``model``; its output and parameter gradients."""
    m = copy.deepcopy(model).train()
    out = objective(m, processor, pairs)
    if not out.backward_done:
        out.loss.backward()
    grads = {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None}
    return out, grads


def max_rel_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    """Largest per-parameter ||a - b|| / ||b|| (same parameter names required)."""
    assert sorted(a) == sorted(b)
    return max(float((a[k] - b[k]).norm() / b[k].norm().clamp_min(1e-12)) for k in b)


class ThreadGroup:
    """A process group of threads: rank r's ``gather(x)`` behaves like ``dist_gather`` (all-gather
    forward; backward sums every rank's gradient for the caller's rows)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.barrier = threading.Barrier(n, timeout=120)
        self.slots: list[Any] = [None] * n

    def exchange(self, rank: int, x: torch.Tensor) -> list[torch.Tensor]:
        self.slots[rank] = x
        self.barrier.wait()
        out = list(self.slots)
        self.barrier.wait()  # nobody overwrites a slot before everyone has read it
        return out

    def gather_fn(self, rank: int):
        group = self

        class _Gather(torch.autograd.Function):
            @staticmethod
            def forward(ctx, x):
                ctx.rows = x.shape[0]
                return torch.cat(group.exchange(rank, x.detach().clone()))

            @staticmethod
            def backward(ctx, grad):
                total = torch.stack(group.exchange(rank, grad.contiguous())).sum(0)
                return total[rank * ctx.rows : (rank + 1) * ctx.rows]

        return lambda x: (_Gather.apply(x), rank * x.shape[0])


def two_rank_grads(model, make_objective, processor, pairs) -> tuple[list[float], dict]:
    """Each half of ``pairs`` on its own thread "rank" (a model replica); returns the rank losses
    and the rank-averaged parameter gradients (what DDP/DeepSpeed apply)."""
    group, half = ThreadGroup(2), len(pairs) // 2
    results: list[Any] = [None, None]
    errors: list[BaseException] = []

    def run(rank: int) -> None:
        try:
            obj = make_objective(group.gather_fn(rank))
            results[rank] = step_grads(
                model, obj, processor, pairs[rank * half : (rank + 1) * half]
            )
        except BaseException as err:  # surfaced in the main thread below
            errors.append(err)
            group.barrier.abort()

    threads = [threading.Thread(target=run, args=(r,)) for r in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    (o0, g0), (o1, g1) = results
    return [o0.loss.item(), o1.loss.item()], {k: (g0[k] + g1[k]) / 2 for k in g0}
