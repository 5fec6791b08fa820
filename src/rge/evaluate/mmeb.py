"""The MMEB protocol for one task (as VLM2Vec V1 / RGE, with ties never favouring the truth).

Each unique query item and each unique candidate item (deduplicated by ``Item.key``) is embedded
once; every row is scored against its OWN candidate list by cosine similarity; the ground truth
is candidate 0; the metric is Precision@1 (:func:`rge.evaluate.metrics.precision_at_1`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rge.data.records import EvalRow, Item
from rge.evaluate.cache import EmbeddingCache, Encoder
from rge.evaluate.metrics import precision_at_1


@dataclass(frozen=True)
class TaskResult:
    """Precision@1 of one task plus one prediction record per row."""

    acc: float
    num_correct: int
    num_pred: int
    predictions: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        """The score record VLM2Vec writes: acc, num_correct, num_pred."""
        return {"acc": self.acc, "num_correct": self.num_correct, "num_pred": self.num_pred}


def normalise(vecs: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (an all-zero row stays zero instead of becoming NaN)."""
    vecs = np.asarray(vecs, dtype=np.float32)
    norms = np.linalg.norm(vecs, axis=1, keepdims=True)
    return vecs / np.maximum(norms, 1e-12)


def embed_unique(
    items: Sequence[Item], side: str, encode: Encoder, cache: EmbeddingCache | None = None
) -> tuple[dict[tuple[str, str], int], np.ndarray]:
    """Embed each unique item once.

    Args:
        items: items, possibly repeated.
        side: "query" or "target", passed to the encoder.
        encode: ``encode(items, side) -> (N, D)``.
        cache: reuse vectors across calls (and runs, if on disk); None encodes everything.

    Returns:
        ({Item.key: row in the array}, (U, D) unit-norm array over the U unique items).
    """
    unique: dict[tuple[str, str], Item] = {}
    for it in items:
        unique.setdefault(it.key, it)
    todo = list(unique.values())
    cache = cache if cache is not None else EmbeddingCache("ephemeral")
    vecs = normalise(cache.encode(todo, side, encode))
    return {key: i for i, key in enumerate(unique)}, vecs


def evaluate_task(
    rows: Sequence[EvalRow], encode: Encoder, cache: EmbeddingCache | None = None
) -> TaskResult:
    """Score one MMEB task.

    Args:
        rows: the task's rows; each row's ground truth is ``candidates[0]``.
        encode: ``encode(items, side) -> (N, D)`` with side "query" or "target".
        cache: optional embedding cache shared with other tasks / reruns.

    Returns:
        TaskResult with acc = num_correct / num_pred and, per row, ``key``, ``pred`` (index of
        the top candidate, ties against the truth), ``correct``, ``num_candidates``,
        ``gt_score`` and ``best_other_score`` (None with a single candidate).
    """
    if not rows:
        raise ValueError("evaluate_task got no rows")
    for row in rows:
        if not row.candidates:
            raise ValueError(f"row {row.key!r} has no candidates")
    q_index, q_vecs = embed_unique([r.query for r in rows], "query", encode, cache)
    c_index, c_vecs = embed_unique([c for r in rows for c in r.candidates], "target", encode, cache)
    if q_vecs.shape[1] != c_vecs.shape[1]:
        raise ValueError(f"query dim {q_vecs.shape[1]} != target dim {c_vecs.shape[1]}")
    scores = [
        c_vecs[[c_index[c.key] for c in r.candidates]] @ q_vecs[q_index[r.query.key]] for r in rows
    ]
    acc, num_correct, num_pred, preds = precision_at_1(scores)
    predictions = [_prediction(r, s, p) for r, s, p in zip(rows, scores, preds, strict=True)]
    return TaskResult(acc, num_correct, num_pred, predictions)


def _prediction(row: EvalRow, scores: np.ndarray, pred: int) -> dict:
    return {
        "key": row.key,
        "pred": pred,
        "correct": pred == 0,
        "num_candidates": len(row.candidates),
        "gt_score": float(scores[0]),
        "best_other_score": float(scores[1:].max()) if len(scores) > 1 else None,
    }


def reasoning_entries(rows: Sequence[EvalRow], sides: Sequence[str]) -> list[tuple[str, str, Item]]:
    """(key, side, item) of every item embedded on ``sides`` ("query" and/or "target").

    Keys: the row key for a query, ``"<row key>/<candidate index>"`` for a candidate; with
    ``rge.evaluate.encoders.rationale_records`` they name each rationale of a task.
    """
    unknown = sorted(set(sides) - {"query", "target"})
    if unknown:
        raise ValueError(f"unknown sides {unknown}; expected 'query' and/or 'target'")
    entries = []
    if "query" in sides:
        entries += [(r.key, "query", r.query) for r in rows]
    if "target" in sides:
        entries += [(f"{r.key}/{j}", "target", c) for r in rows for j, c in enumerate(r.candidates)]
    return entries
