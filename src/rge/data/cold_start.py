"""The cold-start subset (paper §4.1): a seeded sample of training rows, stratified by subset.

Each subset gets a share proportional to its size (largest-remainder rounding, so the shares
sum to the total exactly); rows within a subset are a seeded random sample.
"""

from __future__ import annotations

import os
import random
from collections.abc import Sequence
from pathlib import Path

from rge.io import read_jsonl


def allocate(sizes: dict[str, int], total: int) -> dict[str, int]:
    """Split ``total`` over strata proportionally to ``sizes`` (largest remainder; ties by name).

    Args:
        sizes: rows available per stratum.
        total: rows wanted; capped at the sum of ``sizes``.

    Returns:
        Rows per stratum, each <= its size, summing to ``min(total, sum(sizes))``.
    """
    n = sum(sizes.values())
    total = min(total, n)
    if n == 0:
        return dict.fromkeys(sizes, 0)
    exact = {k: total * v / n for k, v in sizes.items()}
    out = {k: int(x) for k, x in exact.items()}
    by_remainder = sorted(sizes, key=lambda k: (-(exact[k] - out[k]), k))
    for k in by_remainder[: total - sum(out.values())]:
        out[k] += 1
    return out


def select_cold_start(files: Sequence[str | os.PathLike], size: int, seed: int) -> dict:
    """Pick ``size`` row keys from the ``prepare_train`` files, stratified by subset.

    Args:
        files: one records JSONL per subset (an empty file's subset is its file stem).
        size: rows wanted in total (all rows if larger than the data).
        seed: sampling seed.

    Returns:
        {"size", "seed", "per_subset": {subset: n}, "available": {subset: n},
        "keys": [row keys, grouped by subset in input order, record order within]}.

    Raises:
        ValueError: two files hold the same subset.
    """
    keys: dict[str, list[str]] = {}
    for f in files:
        rows = read_jsonl(f)
        subset = rows[0]["subset"] if rows else Path(f).stem
        if subset in keys:
            raise ValueError(f"{f}: subset {subset!r} given twice")
        keys[subset] = [r["key"] for r in rows]
    quota = allocate({s: len(k) for s, k in keys.items()}, size)
    chosen: list[str] = []
    for subset, ks in keys.items():
        # One stream per subset: adding a subset does not change the others' samples.
        picked = random.Random(f"{seed}:{subset}").sample(range(len(ks)), quota[subset])
        chosen += [ks[i] for i in sorted(picked)]
    return {
        "size": len(chosen),
        "seed": seed,
        "per_subset": quota,
        "available": {s: len(k) for s, k in keys.items()},
        "keys": chosen,
    }
