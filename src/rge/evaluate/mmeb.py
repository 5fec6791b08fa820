"""The MMEB protocol for one task (as the RGE release and VLM2Vec V1; paper §4.1).

Each unique query item and each unique candidate item (deduplicated by ``Item.key``) is embedded
once; every row is scored against its OWN candidate list by cosine similarity; the ground truth
is candidate 0 (the release's ``eval_ar.py``, VLM2Vec V1's evaluation); the metric is
Precision@1 under two tie rules, side by side
(:mod:`rge.evaluate.metrics`): ``acc`` (the release's rule: a copy of the ground truth is the
ground truth, then argmax) and ``acc_strict`` (every tie against the ground truth).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from rge.data.records import EvalRow, Item
from rge.evaluate.cache import EmbeddingCache
from rge.evaluate.encoders import Encoder
from rge.evaluate.metrics import precision_at_1, release_precision_at_1


@dataclass(frozen=True)
class TaskResult:
    """Precision@1 of one task under both tie rules plus one prediction record per row.

    ``acc`` / ``num_correct``: the release's rule (the paper's number); ``acc_strict`` /
    ``num_correct_strict``: ties against the ground truth. Fractions in [0, 1].
    """

    acc: float
    num_correct: int
    num_pred: int
    acc_strict: float
    num_correct_strict: int
    predictions: list[dict] = field(default_factory=list)

    def summary(self) -> dict:
        """The score record: VLM2Vec's acc, num_correct, num_pred plus the strict pair."""
        return {
            "acc": self.acc,
            "num_correct": self.num_correct,
            "num_pred": self.num_pred,
            "acc_strict": self.acc_strict,
            "num_correct_strict": self.num_correct_strict,
        }


def normalise(vecs: np.ndarray) -> np.ndarray:
    """(N, D) float32 rows scaled to unit L2 norm (an all-zero row stays zero, not NaN)."""
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
        TaskResult with acc = num_correct / num_pred (release rule), acc_strict, and per row
        ``key``, ``pred`` (``argmax``), ``correct`` (release rule), ``pred_strict`` and
        ``correct_strict`` (ties against the truth), ``num_gt_copies`` (candidates after index
        0 that are the same item as the ground truth), ``num_candidates``, ``gt_score`` and
        ``best_other_score`` (best candidate that is not a copy of the truth; None if none).

    Raises:
        ValueError: no rows, a row without candidates, query and target dimensions differ, or
            non-finite scores.
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
    same = [same_as_gt(r) for r in rows]
    acc, num_correct, num_pred, preds = release_precision_at_1(scores, same)
    acc_strict, num_strict, _, strict = precision_at_1(scores)
    predictions = [
        _prediction(*args) for args in zip(rows, scores, same, preds, strict, strict=True)
    ]
    return TaskResult(acc, num_correct, num_pred, acc_strict, num_strict, predictions)


def same_as_gt(row: EvalRow) -> np.ndarray:
    """(C,) bool: which candidates are the same item (text and image) as the ground truth."""
    gt = row.candidates[0].key
    return np.array([c.key == gt for c in row.candidates], dtype=bool)


def _prediction(row: EvalRow, scores: np.ndarray, same: np.ndarray, pred: int, strict: int) -> dict:
    others = scores[~same]
    return {
        "key": row.key,
        "pred": pred,
        "correct": bool(same[pred]),
        "pred_strict": strict,
        "correct_strict": strict == 0,
        "num_gt_copies": int(same.sum()) - 1,
        "num_candidates": len(row.candidates),
        "gt_score": float(scores[0]),
        "best_other_score": float(others.max()) if others.size else None,
    }


def candidate_list_counts(rows: Sequence[EvalRow]) -> dict:
    """Rows whose candidate list repeats the ground truth or holds any repeated item.

    For the data report: such rows are where the tie rule matters (``acc`` vs ``acc_strict``).

    Args:
        rows: one task's rows.

    Returns:
        {"num_rows", "rows_gt_repeated" (a later candidate is the same (text, image) as
        candidate 0), "rows_with_duplicates" (any two candidates are the same item; includes
        the former), "duplicate_candidates" (candidates beyond the first of each item, summed
        over rows)}.
    """
    gt_repeated = with_dups = extra = 0
    for r in rows:
        keys = [c.key for c in r.candidates]
        n_extra = len(keys) - len(set(keys))
        gt_repeated += keys[0] in keys[1:]
        with_dups += n_extra > 0
        extra += n_extra
    return {
        "num_rows": len(rows),
        "rows_gt_repeated": gt_repeated,
        "rows_with_duplicates": with_dups,
        "duplicate_candidates": extra,
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
