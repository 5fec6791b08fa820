"""Encoders backed by a saved model directory, and the model fingerprint that keys the cache.

``model_encoders`` returns the factory ``encoder_for(mode, side)`` that the MMEB and retrieval
evaluations take. The model is loaded once, on first use. Modes: ``direct`` (input + assistant
header + ``<emb>``) and ``reasoning`` (greedy rationale, then ``<emb>``; ``rge.model.reasoning``).
Which side reasons (query by default, target too for paper Table 7) is the caller's choice of
mode per side. A reasoning encoder keeps every item's rationale, so the stages can write them
and their statistics (``rationale_records``, ``rationale_stats``).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rge.data.records import Item
from rge.evaluate.cache import EmbeddingCache, Encoder

if TYPE_CHECKING:
    from rge.model.reasoning import Rationale

ItemKey = tuple[str, str]

MODES = ("direct", "reasoning")
# files above this size are fingerprinted by size + mtime instead of content (a 3B checkpoint
# would take seconds to hash for every task)
_HASH_LIMIT = 64 << 20


def check_mode(mode: str) -> None:
    """Raise unless ``mode`` is a known embedding mode."""
    if mode not in MODES:
        raise ValueError(f"unknown embedding mode {mode!r}; expected one of {MODES}")


class ReasoningEncoder:
    """A reasoning-mode ``encode(items, side)`` that remembers each item's rationale.

    Args:
        embed: ``embed(items) -> ((N, D) vectors, N rationales)``, e.g. over
            ``rge.model.reasoning.embed_reasoning``.

    ``rationales`` maps ``Item.key`` to its ``Rationale``. An item seen before (on either side:
    the sequence does not depend on the side) is not generated again.
    """

    def __init__(self, embed: Callable[[list[Item]], tuple[np.ndarray, list[Rationale]]]):
        self._embed = embed
        self.rationales: dict[ItemKey, Rationale] = {}
        self._vectors: dict[ItemKey, np.ndarray] = {}

    def __call__(self, items: list[Item], side: str) -> np.ndarray:
        todo = list({it.key: it for it in items if it.key not in self._vectors}.values())
        if todo:
            vecs, rationales = self._embed(todo)
            vecs = np.asarray(vecs, dtype=np.float32)
            if vecs.shape[0] != len(todo) or len(rationales) != len(todo):
                raise ValueError(
                    f"reasoning embed returned {vecs.shape[0]} vectors and {len(rationales)} "
                    f"rationales for {len(todo)} {side} items"
                )
            for it, vec, rationale in zip(todo, vecs, rationales, strict=True):
                self._vectors[it.key] = vec
                self.rationales[it.key] = rationale
        return np.stack([self._vectors[it.key] for it in items])


def encoder_rationales(encoder: Encoder) -> Mapping[ItemKey, Rationale]:
    """The rationales a reasoning-mode encoder kept; raises if it keeps none."""
    rationales = getattr(encoder, "rationales", None)
    if not isinstance(rationales, Mapping):
        raise TypeError(
            f"encoder {encoder!r} for mode 'reasoning' keeps no rationales "
            "(wrap it in ReasoningEncoder)"
        )
    return rationales


def rationale_records(
    entries: Iterable[tuple[str, str, Item]], rationales: Mapping[ItemKey, Rationale]
) -> list[dict]:
    """One record per unique (side, item) of ``entries`` = (key, side, item), first key wins.

    Record: key, side, text, image, rationale, n_tokens, forced. Raises naming the key of an
    entry whose item has no rationale.
    """
    records: dict[tuple[str, ItemKey], dict] = {}
    for key, side, item in entries:
        if (side, item.key) in records:
            continue
        if item.key not in rationales:
            raise KeyError(f"{key} ({side}): no rationale was generated for this item")
        r = rationales[item.key]
        records[(side, item.key)] = {
            "key": key,
            "side": side,
            "text": item.text,
            "image": item.image,
            "rationale": r.text,
            "n_tokens": r.n_tokens,
            "forced": r.forced,
        }
    return list(records.values())


def rationale_stats(records: list[dict]) -> dict:
    """num_rationales, mean_rationale_tokens and forced_emb_rate (None when there are none)."""
    n = len(records)
    return {
        "num_rationales": n,
        "mean_rationale_tokens": sum(r["n_tokens"] for r in records) / n if n else None,
        "forced_emb_rate": sum(bool(r["forced"]) for r in records) / n if n else None,
    }


class SideCaches:
    """Embedding caches per side behind the ``EmbeddingCache.encode`` / ``save`` interface."""

    def __init__(self, caches: dict[str, EmbeddingCache]) -> None:
        self.caches = caches

    def encode(self, items: list[Item], side: str, encode: Encoder) -> np.ndarray:
        """Vectors of ``items`` from ``side``'s cache (see ``EmbeddingCache.encode``)."""
        return self.caches[side].encode(items, side, encode)

    def _unique(self) -> list[EmbeddingCache]:
        return list({id(c): c for c in self.caches.values()}.values())

    def save(self, shard: str) -> None:
        """Save every disk-backed cache once under ``shard``."""
        for cache in self._unique():
            cache.save(shard)

    def counts(self) -> tuple[int, int]:
        """(hits, misses) over all caches."""
        return sum(c.hits for c in self._unique()), sum(c.misses for c in self._unique())


def side_caches(
    fingerprint: str,
    modes: Mapping[str, str],
    *,
    pixels: tuple[int | None, int | None],
    max_new_tokens: int | None,
    cache_dir: str | os.PathLike | None,
) -> SideCaches:
    """Caches for ``modes`` = {side: mode}: on disk for direct sides, in memory for reasoning.

    A direct side's identity is the same whatever the other side does, so a reasoning run's
    direct targets reuse the direct run's vectors. A reasoning side is cached in memory only:
    the cache keeps vectors, and its rationales must be written on every run. Sides with the
    same identity share one cache (one writer per shard).
    """
    by_identity: dict[str, EmbeddingCache] = {}
    caches = {}
    for side, mode in modes.items():
        identity = f"model={fingerprint};mode={mode};pixels={pixels[0]}-{pixels[1]}"
        if mode == "reasoning":
            identity += f";max_new_tokens={max_new_tokens}"
        if identity not in by_identity:
            by_identity[identity] = EmbeddingCache(
                identity, cache_dir if mode == "direct" else None
            )
        caches[side] = by_identity[identity]
    return SideCaches(caches)


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
    model_dir: str | os.PathLike,
    *,
    min_pixels: int,
    max_pixels: int,
    batch_size: int,
    max_new_tokens: int | None = None,
) -> Callable[[str, str], Encoder]:
    """``encoder_for(mode, side)`` over the model saved in ``model_dir`` (loaded on first use).

    Args:
        model_dir: a directory written by ``rge.model.factory.save_pretrained``.
        min_pixels, max_pixels: image resolution bounds for the processor.
        batch_size: items per forward pass (per decode batch in reasoning mode).
        max_new_tokens: generation budget of reasoning mode (``<emb>`` included); required
            for mode "reasoning".

    One encoder per mode, shared by both sides; the reasoning one is a ``ReasoningEncoder``.
    """
    loaded: dict[str, tuple] = {}
    encoders: dict[str, Encoder] = {}

    def model() -> tuple:
        if "model" not in loaded:
            from rge.model.factory import load_pretrained

            loaded["model"] = load_pretrained(
                str(model_dir), min_pixels=min_pixels, max_pixels=max_pixels
            )
        return loaded["model"]

    def direct(items: list[Item], side: str) -> np.ndarray:
        import torch

        from rge.model.embed import embed_direct

        with torch.inference_mode():
            vecs = embed_direct(*model(), list(items), batch_size=batch_size)
        return vecs.float().cpu().numpy()

    def reasoning(items: list[Item]) -> tuple[np.ndarray, list[Rationale]]:
        from rge.model.reasoning import embed_reasoning

        vecs, rationales = embed_reasoning(
            *model(), items, max_new_tokens=int(max_new_tokens), batch_size=batch_size
        )
        return vecs.float().numpy(), rationales

    def encoder_for(mode: str, side: str) -> Encoder:
        check_mode(mode)
        if mode == "reasoning" and max_new_tokens is None:
            raise ValueError(f"{model_dir}: mode 'reasoning' needs max_new_tokens")
        if mode not in encoders:
            encoders[mode] = direct if mode == "direct" else ReasoningEncoder(reasoning)
        return encoders[mode]

    return encoder_for
