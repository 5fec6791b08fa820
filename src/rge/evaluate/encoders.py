"""Encoders backed by a saved model directory, and the model fingerprint that keys the cache.

``model_encoders`` returns the factory ``encoder_for(mode, side)`` that the MMEB and retrieval
evaluations take. The model is loaded once, on first use, its vision tower routed to one
attention call per layer (``rge.model.vision_attention``). Modes: ``direct`` (input + assistant
header + ``<emb>``) and ``reasoning`` (a rationale, then ``<emb>``; ``rge.model.reasoning``, as
the ``generation:`` block configures it).
Which side reasons (query by default, target too for paper Table 7) is the caller's choice of
mode per side. A reasoning encoder keeps every item's rationale, so the stages can write them
and their statistics (``rationale_records``, ``rationale_stats``).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import numpy as np

from rge.data.protocol import FORMAT_VERSION, check_protocol
from rge.data.records import Item
from rge.evaluate.cache import EmbeddingCache

if TYPE_CHECKING:
    from rge.model.reasoning import Rationale

ItemKey = tuple[str, str]

MODES = ("direct", "reasoning")
# files above this size are fingerprinted by size + mtime instead of content (a 3B checkpoint
# would take seconds to hash for every task)
_HASH_LIMIT = 64 << 20


@runtime_checkable
class Encoder(Protocol):
    """What the MMEB and retrieval evaluations embed with: ``encode(items, side)``."""

    def __call__(self, items: list[Item], side: str) -> np.ndarray:
        """Embed ``items`` for ``side``.

        Args:
            items: N items (text + optional absolute image path), already in the prompt
                protocol's text (``rge.data.protocol``).
            side: "query" or "target" (a reasoning-mode encoder may treat them alike).

        Returns:
            (N, D) float array (torch tensors are accepted by the cache); rows need not be
            normalised (the evaluation L2-normalises them). Must be finite.
        """
        ...


@runtime_checkable
class RationaleEncoder(Encoder, Protocol):
    """A reasoning-mode encoder that also keeps each embedded item's rationale."""

    rationales: Mapping[ItemKey, Rationale]


# the reasoning-mode settings when none are passed: GenerationSettings' defaults (the dynamic
# engine, plain greedy, <emb> forced at the cap); a reasoning side's identity always states them
DEFAULT_DECODING: Mapping[str, Any] = {
    "engine": "dynamic",
    "decoding": "greedy",
    "cap": "force_emb",
}


ATTN_IMPLEMENTATIONS = ("flash_attention_2", "sdpa", "eager")


def resolve_attn_implementation(requested: str) -> str:
    """The attention implementation to load the model with (record the result with the scores).

    Args:
        requested: "auto" (the release's flash-attention-2 when the ``flash_attn`` package is
            importable, else "sdpa") or one of ``ATTN_IMPLEMENTATIONS``.

    Raises:
        ValueError: an unknown name; ImportError: "flash_attention_2" asked for explicitly
            but ``flash_attn`` is not installed.
    """
    import importlib.util

    has_flash = importlib.util.find_spec("flash_attn") is not None
    if requested == "auto":
        return "flash_attention_2" if has_flash else "sdpa"
    if requested not in ATTN_IMPLEMENTATIONS:
        raise ValueError(
            f"unknown attention implementation {requested!r}; expected 'auto' or one of "
            f"{ATTN_IMPLEMENTATIONS}"
        )
    if requested == "flash_attention_2" and not has_flash:
        raise ImportError("attention 'flash_attention_2' needs the flash_attn package")
    return requested


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
        """(N, D) float32 vectors of ``items``; raises ValueError on a short embed result."""
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
    """The rationales a reasoning-mode encoder kept; raises TypeError if it keeps none."""
    rationales = getattr(encoder, "rationales", None)
    if not isinstance(encoder, RationaleEncoder) or not isinstance(rationales, Mapping):
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
    protocol: str = "mmeb",
    dtype: str = "float32",
    attn_implementation: str = "sdpa",
    decoding: Mapping[str, Any] | None = None,
) -> SideCaches:
    """Caches for ``modes`` = {side: mode}: on disk for direct sides, in memory for reasoning.

    Args:
        fingerprint: the model's ``dir_fingerprint`` (or hub id + resolved commit).
        modes: {"query" | "target": "direct" | "reasoning"}.
        pixels: (min_pixels, max_pixels) of the processor.
        max_new_tokens: reasoning budget (part of a reasoning side's identity).
        cache_dir: root of the on-disk caches; None keeps everything in memory.
        protocol: the prompt protocol the items' texts follow (``rge.data.protocol``).
        dtype, attn_implementation: how the model was loaded (``torch`` dtype name,
            transformers attention implementation).
        decoding: reasoning-mode generation settings as plain values (e.g. ``{"decoding":
            "checkpoint", "cap": "last_token", "repetition_penalty": 1.05}``); default
            ``DEFAULT_DECODING``. Part of a reasoning side's identity only.

    The identity (see :func:`cache_identity`) also holds ``FORMAT_VERSION``, so vectors made
    under an older sequence format are never reused. A direct side's identity is the same
    whatever the other side does, so a reasoning run's direct targets reuse the direct run's
    vectors. A reasoning side is cached in memory only: the cache keeps vectors, and its
    rationales must be written on every run. Sides with the same identity share one cache
    (one writer per shard).
    """
    check_protocol(protocol)
    by_identity: dict[str, EmbeddingCache] = {}
    caches = {}
    for side, mode in modes.items():
        identity = cache_identity(
            fingerprint,
            mode,
            pixels=pixels,
            protocol=protocol,
            dtype=dtype,
            attn_implementation=attn_implementation,
            max_new_tokens=max_new_tokens,
            decoding=decoding,
        )
        if identity not in by_identity:
            by_identity[identity] = EmbeddingCache(
                identity, cache_dir if mode == "direct" else None
            )
        caches[side] = by_identity[identity]
    return SideCaches(caches)


def cache_identity(
    fingerprint: str,
    mode: str,
    *,
    pixels: tuple[int | None, int | None],
    protocol: str,
    dtype: str,
    attn_implementation: str,
    max_new_tokens: int | None = None,
    decoding: Mapping[str, Any] | None = None,
) -> str:
    """The string that names everything that made a vector (the embedding cache's key).

    ``model``, ``mode``, ``pixels``, ``protocol``, ``format`` (``FORMAT_VERSION``), ``dtype``,
    ``attn``; in reasoning mode also ``max_new_tokens`` and ``decoding`` (the settings as
    sorted JSON). Raises ValueError for an unknown mode.
    """
    check_mode(mode)
    identity = (
        f"model={fingerprint};mode={mode};pixels={pixels[0]}-{pixels[1]};protocol={protocol};"
        f"format={FORMAT_VERSION};dtype={dtype};attn={attn_implementation}"
    )
    if mode == "reasoning":
        settings = json.dumps(dict(decoding or DEFAULT_DECODING), sort_keys=True)
        identity += f";max_new_tokens={max_new_tokens};decoding={settings}"
    return identity


def dir_fingerprint(path: str | os.PathLike) -> str:
    """SHA-256 hex digest over a directory's file names and contents (large files: size +
    mtime); raises FileNotFoundError when ``path`` is not a directory."""
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
    dtype: str = "float32",
    attn_implementation: str = "sdpa",
    reasoning_options: Mapping[str, Any] | None = None,
    revision: str | None = None,
) -> Callable[[str, str], Encoder]:
    """``encoder_for(mode, side)`` over the model in ``model_dir`` (loaded on first use).

    Args:
        model_dir: a directory written by ``rge.model.factory.save_pretrained``, or a hub id.
        min_pixels, max_pixels: image resolution bounds for the processor.
        batch_size: items per forward pass (per decode batch in reasoning mode).
        max_new_tokens: generation budget of reasoning mode (``<emb>`` included); required
            for mode "reasoning".
        dtype: torch dtype name the model is loaded in (the release evaluates in
            "bfloat16"; the default keeps the earlier float32).
        attn_implementation: transformers attention implementation ("sdpa",
            "flash_attention_2", "eager").
        reasoning_options: extra keyword arguments of ``rge.model.reasoning.embed_reasoning``
            (``generation``: a ``GenerationSettings``; ``seed``); None = its defaults.
        revision: hub revision when ``model_dir`` is a hub id.

    One encoder per mode, shared by both sides; the reasoning one is a ``ReasoningEncoder``.
    Pass the same dtype, attention implementation and reasoning options to
    :func:`side_caches`, which keys the vectors on them.
    """
    loaded: dict[str, tuple] = {}
    encoders: dict[str, Encoder] = {}
    options = dict(reasoning_options or {})

    def model() -> tuple:
        if "model" not in loaded:
            from rge.model.factory import load_pretrained

            loaded["model"] = load_pretrained(
                str(model_dir),
                revision=revision,
                dtype=dtype,
                attn_implementation=attn_implementation,
                min_pixels=min_pixels,
                max_pixels=max_pixels,
            )
            from rge.model.vision_attention import use_vision_varlen

            # one attention call per vision layer instead of one per window (the text model
            # keeps ``attn_implementation``); equal to the per-window path within float error
            use_vision_varlen(loaded["model"][0])
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
            *model(), items, max_new_tokens=int(max_new_tokens), batch_size=batch_size, **options
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
