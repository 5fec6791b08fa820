"""The training loop: seeded task-homogeneous batches, AdamW, warm-up + decay, resumable.

``train`` is objective-agnostic: it draws a batch of ``TrainPair``, asks the objective for a loss,
steps the optimizer, logs one JSONL row per step and checkpoints every ``checkpoint_every`` steps
and at the end. If ``work_dir`` already holds a checkpoint it continues from there, and the
result is the same as an uninterrupted run (same weights, same logged losses) on the same
machine and thread count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from rge.data.records import TrainPair
from rge.progress import bar as progress_bar
from rge.train.checkpoint import TrainState, latest_checkpoint, load_checkpoint, save_checkpoint
from rge.train.objectives import Objective
from rge.train.sampler import TaskBatchSampler, lr_factor

if TYPE_CHECKING:
    from transformers import PreTrainedModel, ProcessorMixin

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoopSettings:
    """Optimisation settings of one run (everything that changes the numbers)."""

    batch_size: int
    max_steps: int = 0  # > 0: train exactly this many steps; 0: use ``epochs``
    epochs: int = 1  # passes over the (drop-last) batches when max_steps is 0
    lr: float = 1e-4  # peak learning rate
    weight_decay: float = 0.0  # AdamW decay on matrices; biases and norms are never decayed
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_steps: int = 0  # linear warm-up length
    schedule: str = "cosine"  # decay after warm-up: cosine | linear | constant
    min_lr_ratio: float = 0.0  # final lr as a fraction of the peak
    grad_clip: float = 1.0  # max global grad norm; 0 disables clipping
    seed: int = 0
    checkpoint_every: int = 0  # steps between checkpoints (0: only the final one)
    keep_checkpoints: int = 1  # newest checkpoints kept on disk
    final_window: int = 20  # steps averaged for the final-loss statistics
    desc: str = "train"  # progress-bar label naming rule and run, e.g. "train_run rge"


def total_steps(settings: LoopSettings, batches_per_epoch: int) -> int:
    """Steps of the run: ``max_steps`` if set, else ``epochs`` full passes."""
    return settings.max_steps if settings.max_steps > 0 else settings.epochs * batches_per_epoch


def build_optimizer(model: torch.nn.Module, settings: LoopSettings, n_steps: int) -> tuple:
    """AdamW over the trainable parameters and its LambdaLR schedule."""
    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for _, p in params if p.ndim >= 2], "weight_decay": settings.weight_decay},
        {"params": [p for _, p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=settings.lr, betas=settings.betas)

    def factor(step: int) -> float:
        kind, w, r = settings.schedule, settings.warmup_steps, settings.min_lr_ratio
        return lr_factor(step, warmup=w, total=n_steps, kind=kind, min_ratio=r)

    factor(0)  # fail now, not at the first step, on an unknown schedule name
    return opt, torch.optim.lr_scheduler.LambdaLR(opt, factor)


def _seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def _fingerprint(
    settings: LoopSettings, pairs: Sequence[TrainPair], objective: Objective
) -> dict[str, Any]:
    """What must not change between a run and its resumption (bookkeeping settings may)."""
    numeric = dataclasses.asdict(settings)
    for key in ("checkpoint_every", "keep_checkpoints", "final_window", "desc"):
        numeric.pop(key)
    plain = (int, float, str, bool, type(None))
    obj = {
        f.name: getattr(objective, f.name)
        for f in (dataclasses.fields(objective) if dataclasses.is_dataclass(objective) else ())
        if isinstance(getattr(objective, f.name), plain)
    }
    return json.loads(json.dumps({
        "settings": numeric, "objective": [type(objective).__name__, obj], "rows": len(pairs),
        "first_key": pairs[0].key, "last_key": pairs[-1].key,
    }))  # fmt: skip


def _resume(
    work_dir: Path, model, opt, sched, fingerprint: dict, log_path: Path, engine: Any = None
) -> TrainState:
    """Load the newest checkpoint (if any) and cut the step log back to it (rank 0 writes)."""
    main = _rank() == 0
    ckpt = latest_checkpoint(work_dir / "checkpoints")
    if ckpt is None:
        if main:
            log_path.unlink(missing_ok=True)
        return TrainState(step=0, sampler={"epoch": 0, "pos": 0})
    if engine is not None:
        from rge.train.distributed import load_engine_checkpoint

        state = load_engine_checkpoint(engine, ckpt)
    else:
        state = load_checkpoint(ckpt, model=model, optimizer=opt, scheduler=sched)
    if state.extra.get("fingerprint") != fingerprint:
        raise ValueError(
            f"checkpoint {ckpt} belongs to a run with other settings or data "
            f"({state.extra.get('fingerprint')} vs {fingerprint}); delete {work_dir} to restart"
        )
    if main:
        rows = [r for r in _read_log(log_path) if r["step"] <= state.step]
        log_path.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    log.info("resumed from %s (step %d)", ckpt, state.step)
    return state


def _rank() -> int:
    """This process's rank (0 without a process group)."""
    import torch.distributed as dist

    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def _read_log(path: Path) -> list[dict]:
    if not path.exists():
        return []
    # a kill may leave a torn last line; it belongs to a step after the checkpoint anyway
    rows = []
    for line in path.read_text().splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            break
    return rows


def _summary(rows: list[dict], settings: LoopSettings, wall_s: float, resumed: int) -> dict:
    tail = rows[-settings.final_window :]
    cons = [r["con"] for r in tail if r.get("con") is not None]
    ran = [r["seconds"] for r in rows if r["step"] > resumed]
    cands = [r["candidates"] for r in tail if "candidates" in r]
    return {
        "steps": rows[-1]["step"] if rows else 0,
        "resumed_from_step": resumed,
        "wall_s": round(wall_s, 3),
        "ms_per_step": round(1000 * sum(ran) / len(ran), 2) if ran else None,
        "first_loss": rows[0]["loss"] if rows else None,
        "final_loss": sum(r["loss"] for r in tail) / len(tail) if tail else None,
        "final_con": sum(cons) / len(cons) if cons else None,
        "final_window": len(tail),
        # InfoNCE of a model that cannot tell candidates apart: ln B with in-batch negatives
        # only, ln(B + hard negatives) when the objective reports its candidate count
        "ln_batch": math.log(settings.batch_size),
        "ln_candidates": math.log(sum(cands) / len(cands))
        if cands
        else math.log(settings.batch_size),
    }


def train(
    model: PreTrainedModel,
    processor: ProcessorMixin,
    pairs: Sequence[TrainPair],
    objective: Objective,
    settings: LoopSettings,
    *,
    work_dir: str | Path,
    progress: bool = True,
    deepspeed_config: dict[str, Any] | None = None,
    save: Callable[[torch.nn.Module], None] | None = None,
) -> dict[str, Any]:
    """Train ``model`` in place on ``pairs`` with ``objective``; resume from ``work_dir``.

    Args:
        model: the backbone (trainable parameters are those with ``requires_grad``).
        processor: its processor, handed to the objective.
        pairs: the training rows; order and content are part of the resume fingerprint.
        objective: e.g. ``BaselineObjective``; returns the loss of a batch (or back-propagates
            itself through the ``backward`` it is handed, when its class ``takes_backward``).
        settings: optimisation settings.
        work_dir: resume state: ``checkpoints/step-*/`` and ``log.jsonl`` (one row per step:
            step, loss, con, lm, lr, grad_norm, seconds, subset, objective stats).
        progress: show a tqdm bar with the running loss.
        deepspeed_config: a filled DeepSpeed config (``rge.train.distributed.fill_config``):
            wrap model, AdamW and schedule in a DeepSpeed engine, which does backward, clipping
            and the step. With several processes each rank trains on its share of every batch
            (``batch_size`` is global); rank 0 writes the log; checkpoints are the engine's.
        save: called on rank 0 with the trained model (full weights gathered under ZeRO-3).

    Returns:
        Summary: steps, wall time and ms per step of this process (a resumed run counts only
        its own steps), first/final-window loss, final-window InfoNCE, ln(batch size) and
        ln(candidates per query) (a final InfoNCE near the latter means nothing was learned).

    Raises:
        ValueError: no pairs; or ``work_dir`` holds a checkpoint of a run with other settings,
            objective fields or data (the fingerprint differs): delete it to restart.
        FloatingPointError: a non-finite loss, naming the batch's first keys.

    Paper §4.1 (one epoch, global batch 512, lr 2e-5: the paper config's settings); DESIGN §6
    (resumable; same seed, same result on the CPU).
    """
    if not pairs:
        raise ValueError("train: no training pairs")
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    log_path = work_dir / "log.jsonl"
    sampler = TaskBatchSampler([p.subset for p in pairs], settings.batch_size, settings.seed)
    n_steps = total_steps(settings, len(sampler))
    _seed_all(settings.seed)
    opt, sched = build_optimizer(model, settings, n_steps)
    engine = None
    if deepspeed_config is not None:
        from rge.train.distributed import initialize

        engine = initialize(model, opt, sched, deepspeed_config)
    rank, n_ranks = _rank(), _world_size()
    fingerprint = _fingerprint(settings, pairs, objective)
    state = _resume(work_dir, model, opt, sched, fingerprint, log_path, engine)
    start, t0 = state.step, time.perf_counter()
    model.train()
    bar = progress_bar(n_steps, settings.desc, initial=start, disable=not progress or rank != 0)
    batches = sampler.iterate(**state.sampler)
    share = settings.batch_size // n_ranks
    with open(log_path, "a") if rank == 0 else contextlib.nullcontext() as log_fh:
        for step in range(start + 1, n_steps + 1):
            idx, pos = next(batches)
            idx = idx[rank * share : (rank + 1) * share]
            batch = [pairs[i] for i in idx]
            row = _step(model, processor, batch, objective, opt, sched, settings, engine)
            row["step"] = step
            if log_fh is not None:
                log_fh.write(json.dumps(row, sort_keys=True) + "\n")
                log_fh.flush()
            # refresh=False: the postfix rides on update's redraw, which tqdm rate-limits
            # (a forced redraw per step would print a line per step in lines mode)
            bar.set_postfix(loss=f"{row['loss']:.4f}", refresh=False)
            bar.update(1)
            if step == n_steps or (
                settings.checkpoint_every and step % settings.checkpoint_every == 0
            ):
                _save(work_dir / "checkpoints", model, opt, sched, engine, settings.keep_checkpoints,
                      TrainState(step=step, sampler=pos, extra={"fingerprint": fingerprint}))  # fmt: skip
    bar.close()
    if save is not None:
        _save_final(model, engine, rank, save)
    return _summary(_read_log(log_path), settings, time.perf_counter() - t0, start)


def _save_final(model, engine: Any, rank: int, save: Callable) -> None:
    """Call ``save(model)`` on rank 0; under ZeRO-3 inside a context that gathers the weights."""
    stage3 = engine is not None and engine.zero_optimization_stage() == 3
    if not stage3:
        if rank == 0:
            save(model)
        return
    import deepspeed

    with deepspeed.zero.GatheredParameters(list(model.parameters()), modifier_rank=None):
        if rank == 0:
            save(model)


def _world_size() -> int:
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def _save(root: Path, model, opt, sched, engine, keep: int, state: TrainState) -> None:
    if engine is not None:
        from rge.train.distributed import save_engine_checkpoint

        save_engine_checkpoint(engine, root, state, keep)
    else:
        save_checkpoint(root, model=model, optimizer=opt, scheduler=sched, state=state, keep=keep)


def _step(
    model,
    processor,
    batch: list[TrainPair],
    objective: Objective,
    opt,
    sched,
    settings: LoopSettings,
    engine: Any = None,
) -> dict[str, Any]:
    """One optimizer step; returns its log row (without the step number)."""
    t0 = time.perf_counter()
    lr = sched.get_last_lr()[0]
    if engine is None:
        opt.zero_grad(set_to_none=True)

    def backward(loss: torch.Tensor) -> None:
        if engine is None:
            loss.backward()
        else:  # unmanaged accumulation: backward only accumulates, engine.step updates
            engine.backward(loss, scale_wrt_gas=False)

    # A plain function is a valid objective too (tests, one-off diagnostics): it lacks the
    # attribute and never receives ``backward``.
    takes = getattr(objective, "takes_backward", False)
    out = objective(model, processor, batch, **({"backward": backward} if takes else {}))
    if not torch.isfinite(out.loss):
        raise FloatingPointError(
            f"non-finite loss {out.loss.item()} on batch {[p.key for p in batch][:4]}"
        )
    if not out.backward_done:
        backward(out.loss)
    if engine is None:
        params = [p for g in opt.param_groups for p in g["params"]]
        clip = settings.grad_clip if settings.grad_clip > 0 else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, clip))
        opt.step()
        sched.step()
    else:
        engine.step()  # clips (config gradient_clipping), steps AdamW and the schedule
        norm = engine.get_global_grad_norm()
        grad_norm = float(norm) if norm is not None else None
    row = {
        "loss": out.loss.item(),
        "con": out.con,
        "lm": out.lm,
        "lr": lr,
        "grad_norm": grad_norm,
        "seconds": round(time.perf_counter() - t0, 5),
        "subset": batch[0].subset,
        **out.stats,
    }
    # q_self's rationales, [[pair key, text]], scored later against the training split's scenes
    # (rge.evaluate.rationale_probe.probe_training); a plain-function objective has none
    if getattr(out, "rationales", None):
        row["self_rationales"] = [list(r) for r in out.rationales]
    return row
