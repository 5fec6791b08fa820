"""Embedding cache keyed by (side, text, image) under one encoder identity.

The identity names everything that changes a vector (model fingerprint, embedding mode, image
resolution, prompt protocol, formatting version, dtype, attention implementation, and in
reasoning mode the generation settings; ``rge.evaluate.encoders.side_caches``); vectors are only ever reused under an identical identity, which
avoids VLM2Vec's stale-pickle hazard (a changed prompt or model silently reusing old vectors).

On disk a cache is a folder of shards, one per writer (e.g. one per eval task), so parallel jobs
never write the same file: ``<dir>/<identity hash>/<shard>.npz`` (the vectors) plus
``<shard>.keys.json`` (identity, keys, and the SHA-256 of the npz, which ties the pair together:
a pair left inconsistent by a killed job is ignored, never trusted). A shard holds every entry its
writer used, so rewriting it on a rerun never drops vectors that the rerun needs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rge.data.records import Item
from rge.io import atomic_path, read_json, write_json

if TYPE_CHECKING:
    from rge.evaluate.encoders import Encoder

log = logging.getLogger(__name__)

Key = tuple[str, str, str]  # (side, text, image)


class EmbeddingCache:
    """In-memory embedding cache, optionally backed by a shard folder on disk.

    Args:
        identity: what produced the vectors (model fingerprint + mode + settings).
        directory: root of on-disk caches; None keeps the cache in memory only.
    """

    def __init__(self, identity: str, directory: str | Path | None = None) -> None:
        self.identity = identity
        self.folder = None
        if directory is not None:
            digest = hashlib.sha256(identity.encode()).hexdigest()[:16]
            self.folder = Path(directory) / digest
        self._vectors: dict[Key, np.ndarray] = {}
        self._used: set[Key] = set()
        self.hits = 0
        self.misses = 0
        if self.folder is not None and self.folder.is_dir():
            self._load_shards()

    def __len__(self) -> int:
        return len(self._vectors)

    def encode(self, items: Sequence[Item], side: str, encode: Encoder) -> np.ndarray:
        """Vectors of ``items`` (in order) for ``side``; only uncached unique items are encoded.

        Args:
            items: the items; duplicates (same ``Item.key``) are encoded once.
            side: "query" or "target" (part of the key: reasoning may differ per side).
            encode: ``encode(items, side) -> (N, D)`` array for the missing items.

        Returns:
            (len(items), D) float32 array.

        Raises:
            ValueError: no items, or the encoder returned another shape or NaN/inf.
        """
        if not items:
            raise ValueError(f"nothing to encode on side {side!r}")
        keys = [(side, *it.key) for it in items]
        missing: dict[Key, Item] = {}
        for key, item in zip(keys, items, strict=True):
            if key not in self._vectors and key not in missing:
                missing[key] = item
        self.misses += len(missing)
        self.hits += len(set(keys)) - len(missing)
        if missing:
            todo = list(missing.values())
            vecs = _check_vectors(encode(todo, side), len(todo), side)
            for key, vec in zip(missing, vecs, strict=True):
                self._vectors[key] = vec
        self._used.update(keys)
        return np.stack([self._vectors[k] for k in keys])

    def save(self, shard: str) -> Path | None:
        """Write every entry used since creation to shard ``shard`` (atomic); no-op in memory."""
        if self.folder is None or not self._used:
            return None
        keys = sorted(self._used)
        npz = self.folder / f"{shard}.npz"
        with atomic_path(npz, suffix=".npz") as tmp:
            with open(tmp, "wb") as fh:  # a file object: np.savez never renames it
                np.savez(fh, vectors=np.stack([self._vectors[k] for k in keys]))
            digest = _sha256(tmp)
        meta = {"identity": self.identity, "keys": [list(k) for k in keys], "npz_sha256": digest}
        write_json(self.folder / f"{shard}.keys.json", meta)
        return npz

    def _load_shards(self) -> None:
        for meta_path in sorted(self.folder.glob("*.keys.json")):
            npz = meta_path.with_name(meta_path.name[: -len(".keys.json")] + ".npz")
            meta = read_json(meta_path)
            if meta.get("identity") != self.identity:
                log.warning("%s: identity differs from this encoder's; shard ignored", meta_path)
                continue
            if not npz.exists() or _sha256(npz) != meta.get("npz_sha256"):
                log.warning("%s: vectors missing or not the ones listed; shard ignored", meta_path)
                continue
            with np.load(npz) as data:
                vectors = data["vectors"]
            for key, vec in zip(meta["keys"], vectors, strict=True):
                self._vectors.setdefault(tuple(key), vec)
        log.info("embedding cache %s: %d vectors loaded", self.folder, len(self._vectors))


def _check_vectors(vecs: object, n: int, side: str) -> np.ndarray:
    """The encoder's output as float32 (n, D), or a clear error."""
    if hasattr(vecs, "detach"):  # a torch tensor
        vecs = vecs.detach().float().cpu().numpy()
    arr = np.asarray(vecs, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] != n:
        raise ValueError(f"encoder returned shape {arr.shape} for {n} {side} items; want ({n}, D)")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"encoder returned NaN or inf for {side} items")
    return arr


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
