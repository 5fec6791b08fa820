"""Pure metrics of the evaluation (numpy only): MMEB Precision@1, caption/image Recall@K, aggregates.

Tie policy (all metrics): ties are broken *pessimistically*, i.e. against the ground truth. A
wrong candidate that scores exactly as high as the ground truth counts as ranked above it.
VLM2Vec V1 takes ``np.argmax``, which resolves ties to index 0 = the ground truth, so a constant
embedding scores 100%; here a constant embedding scores 0% on every row with more than one
candidate, and R@K = 0 whenever K is at most the number of wrong items tied with the truth.

Scores are fractions in [0, 1]; tables multiply by 100.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

META_TASKS = ("classification", "vqa", "retrieval", "grounding")
SPLITS = ("IND", "OOD")


def pessimistic_top1(scores: np.ndarray) -> int:
    """Index ranked first for one row whose ground truth is at index 0, ties against index 0.

    Args:
        scores: (C,) similarity of the query to each of its C candidates.

    Returns:
        0 only if the ground truth scores strictly higher than every other candidate; otherwise
        the lowest index > 0 among those with the top score.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"expected a non-empty 1-D score vector, got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        raise ValueError("scores contain NaN or inf")
    if scores.size == 1:
        return 0
    others = scores[1:]
    best_other = int(np.argmax(others)) + 1
    return 0 if scores[0] > others.max() else best_other


def precision_at_1(rows: Iterable[np.ndarray]) -> tuple[float, int, int, list[int]]:
    """MMEB Precision@1 over rows of own-candidate scores (ground truth at index 0).

    Args:
        rows: one (C_i,) score vector per query; C_i may differ between rows.

    Returns:
        (acc, num_correct, num_pred, preds): acc = num_correct / num_pred and the predicted
        candidate index of every row (see :func:`pessimistic_top1`).
    """
    preds = [pessimistic_top1(r) for r in rows]
    if not preds:
        raise ValueError("precision_at_1 needs at least one row")
    num_correct = sum(p == 0 for p in preds)
    return num_correct / len(preds), num_correct, len(preds), preds


def recall_t2i(
    sim: np.ndarray, caption_image: Sequence[int], ks: Sequence[int]
) -> dict[int, float]:
    """Text-to-image Recall@K: fraction of captions whose own image is in their top K.

    Args:
        sim: (T, I) similarity, caption j against image i.
        caption_image: (T,) index of the image caption j describes.
        ks: the K values.

    Returns:
        {K: recall}.
    """
    sim, gt = _check_retrieval(sim, caption_image)
    gt_score = sim[np.arange(sim.shape[0]), gt]
    ranks = (sim >= gt_score[:, None]).sum(axis=1) - 1  # others scoring >= the own image
    return {int(k): float(np.mean(ranks < k)) for k in ks}


def recall_i2t(
    sim: np.ndarray, caption_image: Sequence[int], ks: Sequence[int]
) -> dict[int, float]:
    """Image-to-text Recall@K: fraction of images with ANY of their captions in their top K.

    Args:
        sim: (T, I) similarity, caption j against image i (the same matrix as for t2i).
        caption_image: (T,) index of the image caption j describes.
        ks: the K values.

    Returns:
        {K: recall}; images without any caption raise (they could never be retrieved).
        Ties: a caption of another image that scores as high as the best own caption counts
        as ranked above it.
    """
    sim, gt = _check_retrieval(sim, caption_image)
    n_img = sim.shape[1]
    best = np.empty(n_img, dtype=np.int64)
    for i in range(n_img):
        own = np.flatnonzero(gt == i)
        if own.size == 0:
            raise ValueError(f"image {i} has no caption; image-to-text recall is undefined")
        col = sim[:, i]
        others = np.delete(col, own)
        # rank of the best own caption: other images' captions scoring >= it (ties against);
        # the image's other own captions do not push it down
        best[i] = int((others >= col[own].max()).sum())
    return {int(k): float(np.mean(best < k)) for k in ks}


def _check_retrieval(
    sim: np.ndarray, caption_image: Sequence[int]
) -> tuple[np.ndarray, np.ndarray]:
    sim = np.asarray(sim, dtype=np.float64)
    gt = np.asarray(caption_image, dtype=np.int64)
    if sim.ndim != 2 or gt.shape != (sim.shape[0],):
        raise ValueError(f"sim must be (T, I) and caption_image (T,); got {sim.shape}, {gt.shape}")
    if gt.size and (gt.min() < 0 or gt.max() >= sim.shape[1]):
        raise ValueError(f"caption_image holds an index outside [0, {sim.shape[1]})")
    if not np.all(np.isfinite(sim)):
        raise ValueError("similarity matrix contains NaN or inf")
    return sim, gt


def aggregate(
    task_scores: Mapping[str, float],
    meta_task: Mapping[str, str],
    split: Mapping[str, str],
) -> dict:
    """MMEB aggregates: mean per meta-task, IND mean, OOD mean, overall = unweighted task mean.

    Args:
        task_scores: {task: score}.
        meta_task: {task: one of META_TASKS}; every scored task must be listed.
        split: {task: "IND" | "OOD"}; every scored task must be listed.

    Returns:
        {"meta_task": {name: mean}, "IND": mean, "OOD": mean, "overall": mean, "num_tasks": n};
        a group without tasks is absent from "meta_task" and None for IND/OOD.
    """
    if not task_scores:
        raise ValueError("aggregate needs at least one task score")
    groups: dict[str, list[float]] = {}
    splits: dict[str, list[float]] = {s: [] for s in SPLITS}
    for task, score in task_scores.items():
        mt, sp = meta_task.get(task), split.get(task)
        if mt not in META_TASKS:
            raise ValueError(f"task {task!r}: meta_task {mt!r} not in {META_TASKS}")
        if sp not in SPLITS:
            raise ValueError(f"task {task!r}: split {sp!r} not in {SPLITS}")
        groups.setdefault(mt, []).append(float(score))
        splits[sp].append(float(score))
    return {
        "meta_task": {mt: float(np.mean(groups[mt])) for mt in META_TASKS if mt in groups},
        "IND": float(np.mean(splits["IND"])) if splits["IND"] else None,
        "OOD": float(np.mean(splits["OOD"])) if splits["OOD"] else None,
        "overall": float(np.mean(list(task_scores.values()))),
        "num_tasks": len(task_scores),
    }
