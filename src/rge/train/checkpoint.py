"""Training checkpoints: everything a killed run needs to continue bit for bit.

A checkpoint is a folder ``<root>/step-<NNNNNNNN>/`` written atomically (``rge.io.atomic_dir``):

    model.safetensors   model weights (safetensors; tied weights stored once)
    optimizer.pt        optimizer state_dict
    scheduler.pt        LR scheduler state_dict
    state.pt            step, sampler position, RNG states of python / numpy / torch, extras

``.pt`` files hold only tensors and plain Python values and are loaded with
``weights_only=True``. A folder that is still being written has a hidden temporary name, so
``latest_checkpoint`` never picks a half-written one.
"""

from __future__ import annotations

import logging
import random
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model

from rge.io import atomic_dir

log = logging.getLogger(__name__)

_STEP_DIR = re.compile(r"^step-(\d{8})$")


@dataclass
class TrainState:
    """The non-tensor progress of a run, restored on resume."""

    step: int
    sampler: dict[str, int] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def rng_state() -> dict[str, Any]:
    """The python, numpy and torch (CPU, and CUDA if present) RNG states as plain values."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": (kind, torch.from_numpy(keys.copy()), pos, has_gauss, gauss),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the states captured by ``rng_state``."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy(), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    root: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: TrainState,
    keep: int = 1,
) -> Path:
    """Write ``root/step-<step>/`` atomically, then delete all but the ``keep`` newest.

    Args:
        root: the folder holding this run's checkpoints (outside the declared outputs).
        model, optimizer, scheduler: the objects to snapshot (scheduler needs ``state_dict``).
        state: step, sampler position and extras; RNG states are captured here.
        keep: how many checkpoints to keep (>= 1).

    Returns:
        The checkpoint folder.
    """
    root = Path(root)
    out = root / f"step-{state.step:08d}"
    with atomic_dir(out) as tmp:
        save_model(model, str(tmp / "model.safetensors"))
        torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
        torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
        torch.save(
            {
                "step": state.step,
                "sampler": state.sampler,
                "extra": state.extra,
                "rng": rng_state(),
            },
            tmp / "state.pt",
        )
    for old in list_checkpoints(root)[: -max(keep, 1)]:
        shutil.rmtree(old)
    log.info("checkpoint %s", out)
    return out


def list_checkpoints(root: str | Path) -> list[Path]:
    """Complete checkpoint folders under ``root``, oldest first (none if ``root`` is missing)."""
    root = Path(root)
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _STEP_DIR.match(p.name)]
    return sorted(found, key=lambda p: p.name)


def latest_checkpoint(root: str | Path) -> Path | None:
    """The newest complete checkpoint under ``root``, or None."""
    found = list_checkpoints(root)
    return found[-1] if found else None


def load_checkpoint(
    path: str | Path,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    restore_rng: bool = True,
) -> TrainState:
    """Load a checkpoint written by ``save_checkpoint`` into the given objects.

    Args:
        path: a ``step-*`` folder.
        model, optimizer, scheduler: built exactly as for the original run.
        restore_rng: also restore the python/numpy/torch RNG states.

    Returns:
        The saved ``TrainState``.
    """
    path = Path(path)
    for name in ("model.safetensors", "optimizer.pt", "scheduler.pt", "state.pt"):
        if not (path / name).is_file():
            raise FileNotFoundError(f"checkpoint {path} lacks {name}")
    missing, unexpected = load_model(model, str(path / "model.safetensors"), strict=False)
    if missing or unexpected:
        raise ValueError(
            f"checkpoint {path}: weights do not match the model "
            f"(missing {missing[:5]}, unexpected {unexpected[:5]})"
        )
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    raw = torch.load(path / "state.pt", weights_only=True)
    if restore_rng:
        set_rng_state(raw["rng"])
    return TrainState(step=int(raw["step"]), sampler=dict(raw["sampler"]), extra=dict(raw["extra"]))
