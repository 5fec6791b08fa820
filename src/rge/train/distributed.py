"""DeepSpeed glue: when to use it, its config, the engine, and engine checkpoints.

DeepSpeed is imported lazily (only when a run asks for it). A run uses it when the stage is
given a DeepSpeed JSON config, or when it was launched on several processes (``WORLD_SIZE`` > 1,
set by the ``deepspeed`` launcher, ``accelerate launch`` or ``torchrun``). The engine wraps our
own AdamW and LR schedule (so the numbers match a plain run), takes over backward, gradient
clipping and the optimizer step, and keeps ZeRO-partitioned optimizer state.

Gradient accumulation is *unmanaged* (``managed_gradient_accumulation: false``): every
``engine.backward`` only accumulates, and each ``engine.step`` is one optimizer update. This is
what the gradient cache needs: it calls ``backward`` once per chunk, then steps once.

The shipped configs (``workflow/deepspeed/zero2.json``, ``zero3.json``) say ``"auto"`` for the
keys the run owns (batch sizes, accumulation, clipping, bf16): ``fill_config`` sets them from
the run's settings, as accelerate would. bf16 ``auto`` = bf16 on a GPU, fp32 on the CPU.

Data parallelism: ``batch_size`` stays the *global* contrastive batch; each rank takes its
contiguous share of every batch and candidates are gathered across ranks
(``rge.train.losses.dist_gather``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from rge.train.checkpoint import TrainState, list_checkpoints, rng_state, set_rng_state

if TYPE_CHECKING:
    from deepspeed import DeepSpeedEngine

# Used when several processes run without a config file: ZeRO-2, everything else filled below.
DEFAULT_CONFIG: dict[str, Any] = {
    "zero_optimization": {"stage": 2, "overlap_comm": False, "contiguous_gradients": True},
    "bf16": {"enabled": "auto"},
}


def world() -> tuple[int, int, int]:
    """(rank, world size, local rank) from the launcher's environment (0, 1, 0 when absent)."""
    env = os.environ
    return int(env.get("RANK", 0)), int(env.get("WORLD_SIZE", 1)), int(env.get("LOCAL_RANK", 0))


def wanted(config_path: str | os.PathLike | None) -> bool:
    """Whether a run should go through DeepSpeed: a config was given or several processes run."""
    return bool(config_path) or world()[1] > 1


def load_config(path: str | os.PathLike | None) -> dict[str, Any]:
    """The DeepSpeed config from ``path`` (JSON), or ``DEFAULT_CONFIG`` when None."""
    if not path:
        return json.loads(json.dumps(DEFAULT_CONFIG))
    try:
        return json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"deepspeed config {path}: cannot read it as JSON ({err})") from err


def fill_config(
    config: dict[str, Any], *, batch_size: int, grad_clip: float, on_gpu: bool
) -> dict[str, Any]:
    """Set the keys the loop owns; ``"auto"`` values are resolved here.

    Args:
        config: a ZeRO config (e.g. ``workflow/deepspeed/zero2.json``).
        batch_size: the global contrastive batch (divisible by the world size).
        grad_clip: max global gradient norm (0 = off); DeepSpeed's own default is 1.0.
        on_gpu: bf16 ``"auto"`` means bf16 on a GPU and fp32 on the CPU.

    Returns:
        A new config dict ready for ``deepspeed.initialize``.
    """
    n = world()[1]
    if batch_size % n:
        raise ValueError(f"batch_size {batch_size} is not divisible by WORLD_SIZE {n}")
    cfg = json.loads(json.dumps(config))
    cfg.update(
        train_batch_size=batch_size,
        train_micro_batch_size_per_gpu=batch_size // n,
        gradient_accumulation_steps=1,
        gradient_clipping=float(grad_clip),
        managed_gradient_accumulation=False,  # one engine.step per loop step (gradient cache)
        zero_allow_untested_optimizer=True,  # our own torch AdamW, for parity with plain runs
    )
    for key in ("bf16", "fp16"):
        if cfg.get(key, {}).get("enabled") == "auto":
            cfg[key]["enabled"] = on_gpu and key == "bf16"
    cfg.setdefault("steps_per_print", 10**9)  # the loop logs; keep DeepSpeed quiet
    return cfg


def initialize(
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    config: dict,
) -> DeepSpeedEngine:
    """Wrap model, optimizer and schedule in a DeepSpeed engine (process group set up here).

    The process group uses NCCL when CUDA is available, else gloo (so CPU tests run it). The
    engine then owns backward, clipping and the optimizer/schedule step.
    """
    import deepspeed

    if not torch.distributed.is_initialized():
        deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo")
    engine, *_ = deepspeed.initialize(
        model=model, optimizer=optimizer, lr_scheduler=scheduler, config=config
    )
    return engine


def save_engine_checkpoint(
    engine: DeepSpeedEngine, root: str | Path, state: TrainState, keep: int
) -> Path:
    """Collective: write ``root/step-<step>/`` through the engine (all ranks must call).

    The engine writes model + ZeRO optimizer + schedule shards into a hidden temporary folder;
    each rank adds its RNG state; rank 0 renames the folder into place (so an interrupted save
    is never picked up) and prunes all but the ``keep`` newest.
    """
    import torch.distributed as dist

    rank = world()[0]
    root = Path(root)
    out = root / f"step-{state.step:08d}"
    tmp = root / f".{out.name}.tmp"
    if rank == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    dist.barrier()
    client = {"step": state.step, "sampler": state.sampler, "extra": state.extra}
    engine.save_checkpoint(str(tmp), tag="engine", client_state=client, save_latest=False)
    torch.save(rng_state(), tmp / f"rng_rank{rank}.pt")
    dist.barrier()
    if rank == 0:
        shutil.rmtree(out, ignore_errors=True)
        tmp.rename(out)
        for old in list_checkpoints(root)[: -max(keep, 1)]:
            shutil.rmtree(old)
    dist.barrier()
    return out


def load_engine_checkpoint(engine: DeepSpeedEngine, path: str | Path) -> TrainState:
    """Collective: restore a ``save_engine_checkpoint`` folder into ``engine``.

    Also restores this rank's RNG state. Raises FileNotFoundError when the engine finds no
    checkpoint under ``path``.
    """
    path = Path(path)
    loaded, client = engine.load_checkpoint(str(path), tag="engine")
    if loaded is None:
        raise FileNotFoundError(f"deepspeed checkpoint {path} could not be loaded")
    set_rng_state(torch.load(path / f"rng_rank{world()[0]}.pt", weights_only=False))
    return TrainState(step=int(client["step"]), sampler=dict(client["sampler"]),
                      extra=dict(client["extra"]))  # fmt: skip
