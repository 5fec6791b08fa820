"""Pick the cold-start subset: a seeded sample of training rows, stratified by subset.

The paper cold-starts on a 160K subset of MMEB-train; here its size is config. Each subset
gets a share proportional to its size (largest-remainder rounding, so the shares sum to the
total exactly); rows within a subset are a seeded random sample.

Config keys read (cfg slice):
    size (int): total number of rows to select (all rows if larger than the data).
    seed (int): sampling seed.

Inputs:
    records: one or more ``prepare_train`` JSONL files (one per subset; repeat the name).
Outputs:
    selection: JSON ``{"size", "seed", "per_subset": {subset: n}, "available": {subset: n},
        "keys": [row keys, grouped by subset in input order]}``.
"""

from __future__ import annotations

import logging
import random
from pathlib import Path

from rge.io import read_jsonl, write_json
from rge.stages._cli import Paths, stage_main

log = logging.getLogger(__name__)


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


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Read the records' keys, allocate, sample and write the selection."""
    files = inputs.records if isinstance(inputs.records, list) else [inputs.records]
    keys: dict[str, list[str]] = {}
    for f in files:
        rows = read_jsonl(f)
        subset = rows[0]["subset"] if rows else Path(f).stem
        if subset in keys:
            raise ValueError(f"{f}: subset {subset!r} given twice")
        keys[subset] = [r["key"] for r in rows]
    seed = int(cfg["seed"])
    quota = allocate({s: len(k) for s, k in keys.items()}, int(cfg["size"]))
    chosen: list[str] = []
    for subset, ks in keys.items():
        # One stream per subset: adding a subset does not change the others' samples.
        picked = random.Random(f"{seed}:{subset}").sample(range(len(ks)), quota[subset])
        chosen += [ks[i] for i in sorted(picked)]
    selection = {
        "size": len(chosen),
        "seed": seed,
        "per_subset": quota,
        "available": {s: len(k) for s, k in keys.items()},
        "keys": chosen,
    }
    write_json(outputs.selection, selection)
    log.info("cold-start selection: %d rows from %d subsets", len(chosen), len(keys))
    return selection


def main(argv: list[str] | None = None) -> dict:
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
