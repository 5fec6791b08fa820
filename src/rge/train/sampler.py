"""Task-homogeneous batches and the learning-rate schedule (pure, seeded).

Every batch comes from one subset, as in MoCa and RGE: in-batch negatives from the same task are
harder and share an instruction style, while a mixed batch could be solved by telling tasks apart.
Subsets are interleaved by a seeded shuffle of all the epoch's batches.
"""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Iterator, Sequence

log = logging.getLogger(__name__)


class TaskBatchSampler:
    """Seeded batches of row indices, each from one subset; resumable from (epoch, pos).

    Args:
        subsets: the subset label of every row (row i belongs to ``subsets[i]``).
        batch_size: rows per batch; a subset's last incomplete batch is dropped (a smaller batch
            would change the number of in-batch negatives and so the loss scale).
        seed: epoch e is shuffled by a generator seeded from (seed, e) alone, so any position
            can be recomputed without replaying the ones before it.
    """

    def __init__(self, subsets: Sequence[str], batch_size: int, seed: int) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.seed = seed
        self.groups: dict[str, list[int]] = {}
        for i, name in enumerate(subsets):
            self.groups.setdefault(name, []).append(i)
        too_small = sorted(s for s, idx in self.groups.items() if len(idx) < batch_size)
        if too_small:
            log.warning(
                "subsets with fewer rows than batch_size %d give no batch: %s",
                batch_size,
                too_small,
            )
        if len(self) == 0:
            raise ValueError(
                f"no full batch of {batch_size} rows in any subset "
                f"(sizes: { {s: len(i) for s, i in self.groups.items()} })"
            )

    def __len__(self) -> int:
        """Batches per epoch."""
        return sum(len(idx) // self.batch_size for idx in self.groups.values())

    def epoch(self, epoch: int) -> list[list[int]]:
        """All batches of ``epoch`` in their seeded order."""
        rng = random.Random(
            f"{self.seed}:{epoch}"
        )  # str seeds hash with sha512: stable across runs
        batches = []
        for name in sorted(self.groups):
            idx = list(self.groups[name])
            rng.shuffle(idx)
            n = len(idx) // self.batch_size * self.batch_size
            batches += [idx[i : i + self.batch_size] for i in range(0, n, self.batch_size)]
        rng.shuffle(batches)
        return batches

    def iterate(self, epoch: int = 0, pos: int = 0) -> Iterator[tuple[list[int], dict[str, int]]]:
        """Batches from (epoch, pos) on, endlessly, each with the position *after* it."""
        while True:
            batches = self.epoch(epoch)
            for i in range(pos, len(batches)):
                yield batches[i], {"epoch": epoch, "pos": i + 1}
            epoch, pos = epoch + 1, 0


def lr_factor(step: int, *, warmup: int, total: int, kind: str, min_ratio: float = 0.0) -> float:
    """Multiplier of the peak learning rate at 0-based ``step``.

    Linear warm-up over the first ``warmup`` steps (step 0 already gets 1/warmup, so no step is
    wasted at lr 0), then ``kind`` decay from 1 to ``min_ratio`` at the last step:
    ``cosine``, ``linear`` or ``constant``.
    """
    if step < warmup:
        return (step + 1) / warmup
    if kind == "constant":
        return 1.0
    p = min(1.0, (step - warmup) / max(1, total - warmup - 1))
    if kind == "cosine":
        shape = 0.5 * (1 + math.cos(math.pi * p))
    elif kind == "linear":
        shape = 1 - p
    else:
        raise ValueError(f"unknown lr schedule {kind!r}; use cosine, linear or constant")
    return min_ratio + (1 - min_ratio) * shape
