"""Encoders backed by a saved model directory, and the model fingerprint that keys the cache.

``model_encoders`` returns the factory ``encoder_for(mode, side)`` that the MMEB and retrieval
evaluations take. The model is loaded once, on first use. Modes: ``direct`` (input + assistant
header + ``<emb>``); ``reasoning`` is not available yet and raises (never a silent stand-in).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np

from rge.data.records import Item
from rge.evaluate.cache import Encoder

MODES = ("direct", "reasoning")
# files above this size are fingerprinted by size + mtime instead of content (a 3B checkpoint
# would take seconds to hash for every task)
_HASH_LIMIT = 64 << 20


def check_mode(mode: str) -> None:
    """Raise unless ``mode`` can be evaluated now."""
    if mode not in MODES:
        raise ValueError(f"unknown embedding mode {mode!r}; expected one of {MODES}")
    if mode == "reasoning":
        raise NotImplementedError("mode 'reasoning' not available yet")


def dir_fingerprint(path: str | os.PathLike) -> str:
    """SHA-256 over a directory's file names and contents (large files: size + mtime)."""
    root = Path(path)
    if not root.is_dir():
        raise FileNotFoundError(f"model directory {root} does not exist")
    h = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        stat = file.stat()
        h.update(f"{file.relative_to(root)}\0{stat.st_size}\0".encode())
        if stat.st_size > _HASH_LIMIT:
            h.update(str(stat.st_mtime_ns).encode())
        else:
            h.update(file.read_bytes())
    return h.hexdigest()


def model_encoders(
    model_dir: str | os.PathLike, *, min_pixels: int, max_pixels: int, batch_size: int
) -> Callable[[str, str], Encoder]:
    """``encoder_for(mode, side)`` over the model saved in ``model_dir`` (loaded on first use).

    Args:
        model_dir: a directory written by ``rge.model.factory.save_pretrained``.
        min_pixels, max_pixels: image resolution bounds for the processor.
        batch_size: items per forward pass.
    """
    loaded: dict[str, tuple] = {}

    def encoder_for(mode: str, side: str) -> Encoder:
        check_mode(mode)

        def encode(items: list[Item], side_: str) -> np.ndarray:
            import torch

            from rge.model.embed import embed_direct
            from rge.model.factory import load_pretrained

            if "model" not in loaded:
                loaded["model"] = load_pretrained(
                    str(model_dir), min_pixels=min_pixels, max_pixels=max_pixels
                )
            model, processor = loaded["model"]
            with torch.inference_mode():
                vecs = embed_direct(model, processor, list(items), batch_size=batch_size)
            return vecs.float().cpu().numpy()

        return encode

    return encoder_for
