"""Pure metrics of the evaluation (numpy only): MMEB Precision@1, caption/image Recall@K, aggregates.

Identical items are one item: a candidate whose (text, image) equals the ground truth's is the
ground truth (it gets the same vector, so no model can tell them apart), and in Recall@K a
caption identical to one of an image's own captions is an own caption of that image.

Two MMEB Precision@1 rules, reported side by side (``acc`` and ``acc_strict``):

* release rule (:func:`release_top1`, the paper's number): the identical-item rule, then
  ``np.argmax`` (first maximum), as the RGE release and VLM2Vec V1 score, so any other tie
  goes to the ground truth at index 0; a constant embedding scores 100%.
* strict rule (:func:`pessimistic_top1`): ties are broken *against* the ground truth, copies
  of it included; a constant embedding scores 0% on every row with more than one candidate.
  A large gap between the two flags a degenerate or collapsed embedding.

Recall@K uses the identical-item rule and otherwise the strict tie rule (R@K = 0 whenever K is
at most the number of non-identical items tied with the truth); with distinct items and
continuous scores it equals VLM2Vec's.

Sources: the RGE release's ``evaluation/eval_utils.py`` (``get_pred``: ``np.argmax``) and
``eval_ar.py`` (correct iff the prediction is the ground truth), identical to VLM2Vec V1's;
R@K as VLM2Vec V1's ``evaluation/eval_flickr.py``.

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
    scores = _check_scores(scores)
    if scores.size == 1:
        return 0
    others = scores[1:]
    best_other = int(np.argmax(others)) + 1
    return 0 if scores[0] > others.max() else best_other


def release_top1(scores: np.ndarray, same_as_gt: Sequence[bool] | np.ndarray) -> tuple[int, bool]:
    """Index ranked first under the release rule, and whether it counts as the ground truth.

    Args:
        scores: (C,) similarity of the query to each of its C candidates, ground truth at 0.
        same_as_gt: (C,) bool, True where the candidate is the same item as the ground truth
            (``same_as_gt[0]`` must be True).

    Returns:
        (``np.argmax(scores)``, ``same_as_gt[pred]``).

    Raises:
        ValueError: empty, non-1-D or non-finite scores, or a mask of another shape.
    """
    scores = _check_scores(scores)
    same = np.asarray(same_as_gt, dtype=bool)
    if same.shape != scores.shape or not same[0]:
        raise ValueError(f"same_as_gt must be ({scores.size},) with index 0 True, got {same}")
    pred = int(np.argmax(scores))
    return pred, bool(same[pred])


def release_precision_at_1(
    rows: Iterable[np.ndarray], same_as_gt: Iterable[Sequence[bool] | np.ndarray]
) -> tuple[float, int, int, list[int]]:
    """MMEB Precision@1 under the release rule (see :func:`release_top1`).

    Args:
        rows: one (C_i,) score vector per query (ground truth at index 0).
        same_as_gt: one (C_i,) bool mask per row, True on copies of the ground truth.

    Returns:
        (acc, num_correct, num_pred, preds) as :func:`precision_at_1`.
    """
    results = [release_top1(r, s) for r, s in zip(rows, same_as_gt, strict=True)]
    if not results:
        raise ValueError("release_precision_at_1 needs at least one row")
    num_correct = sum(ok for _, ok in results)
    return num_correct / len(results), num_correct, len(results), [p for p, _ in results]


def _check_scores(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(f"expected a non-empty 1-D score vector, got shape {scores.shape}")
    if not np.all(np.isfinite(scores)):
        # the release would score an all-NaN row as correct (argmax 0); a NaN is a bug here
        raise ValueError("scores contain NaN or inf")
    return scores


def precision_at_1(rows: Iterable[np.ndarray]) -> tuple[float, int, int, list[int]]:
    """MMEB Precision@1 under the strict rule (ties against the truth, copies of it included).

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
    sim: np.ndarray,
    caption_image: Sequence[int],
    ks: Sequence[int],
    *,
    caption_keys: Sequence[object] | None = None,
    image_keys: Sequence[object] | None = None,
) -> dict[int, float]:
    """Text-to-image Recall@K: fraction of captions with an own image in their top K.

    Args:
        sim: (T, I) similarity, caption j against image i.
        caption_image: (T,) index of the image caption j describes.
        ks: the K values.
        caption_keys: (T,) item key of each caption; captions with equal keys are one item,
            so image i is own for caption j when i has a caption with j's key. None = all
            distinct.
        image_keys: (I,) item key of each image; images with equal keys are one item.

    Returns:
        {K: recall}. Ties with a non-own image count against the caption.
    """
    sim, gt = _check_retrieval(sim, caption_image)
    own = _own_pairs(gt, caption_keys, image_keys, sim.shape)
    ranks = np.empty(sim.shape[0], dtype=np.int64)
    for j in range(sim.shape[0]):
        mask = own.images_of(j)
        ranks[j] = int((sim[j, ~mask] >= sim[j, mask].max()).sum())
    return {int(k): float(np.mean(ranks < k)) for k in ks}


def recall_i2t(
    sim: np.ndarray,
    caption_image: Sequence[int],
    ks: Sequence[int],
    *,
    caption_keys: Sequence[object] | None = None,
    image_keys: Sequence[object] | None = None,
) -> dict[int, float]:
    """Image-to-text Recall@K: fraction of images with ANY of their captions in their top K.

    Args:
        sim: (T, I) similarity, caption j against image i (the same matrix as for t2i).
        caption_image: (T,) index of the image caption j describes.
        ks: the K values.
        caption_keys, image_keys: item keys, as in :func:`recall_t2i`: a caption identical to
            one of the image's own captions is an own caption.

    Returns:
        {K: recall}; images without any caption raise (they could never be retrieved).
        Ties: a non-own caption that scores as high as the best own caption counts as ranked
        above it; the image's other own captions do not push it down.
    """
    sim, gt = _check_retrieval(sim, caption_image)
    own = _own_pairs(gt, caption_keys, image_keys, sim.shape)
    best = np.empty(sim.shape[1], dtype=np.int64)
    for i in range(sim.shape[1]):
        mask = own.captions_of(i)
        if not mask.any():
            raise ValueError(f"image {i} has no caption; image-to-text recall is undefined")
        col = sim[:, i]
        best[i] = int((col[~mask] >= col[mask].max()).sum())
    return {int(k): float(np.mean(best < k)) for k in ks}


class _Own:
    """Which (caption, image) pairs are own, with identical items merged into one class."""

    def __init__(self, cap_cls: np.ndarray, img_cls: np.ndarray, pairs: set[tuple[int, int]]):
        self.cap_cls, self.img_cls = cap_cls, img_cls
        self.imgs_by_cap: dict[int, set[int]] = {}
        self.caps_by_img: dict[int, set[int]] = {}
        for c, i in pairs:
            self.imgs_by_cap.setdefault(c, set()).add(i)
            self.caps_by_img.setdefault(i, set()).add(c)

    def images_of(self, j: int) -> np.ndarray:
        """(I,) bool: the images own for caption j."""
        return np.isin(self.img_cls, list(self.imgs_by_cap[int(self.cap_cls[j])]))

    def captions_of(self, i: int) -> np.ndarray:
        """(T,) bool: the captions own for image i."""
        return np.isin(self.cap_cls, list(self.caps_by_img.get(int(self.img_cls[i]), ())))


def _own_pairs(
    gt: np.ndarray,
    caption_keys: Sequence[object] | None,
    image_keys: Sequence[object] | None,
    shape: tuple[int, int],
) -> _Own:
    cap_cls = _classes(caption_keys, shape[0], "caption_keys")
    img_cls = _classes(image_keys, shape[1], "image_keys")
    pairs = {(int(c), int(img_cls[g])) for c, g in zip(cap_cls, gt, strict=True)}
    return _Own(cap_cls, img_cls, pairs)


def _classes(keys: Sequence[object] | None, n: int, name: str) -> np.ndarray:
    """(n,) int: equal keys share a class id; None = every position its own class."""
    if keys is None:
        return np.arange(n)
    if len(keys) != n:
        raise ValueError(f"{name} has {len(keys)} entries for {n} rows/columns")
    ids: dict[object, int] = {}
    return np.array([ids.setdefault(k, len(ids)) for k in keys], dtype=np.int64)


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

    Raises:
        ValueError: no scores, or a task without a known meta-task or split.
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
