"""Pool a seeded run's replicates: mean and sample sd of every MMEB score (issue 12 item 3).

A registry entry with ``seeds:`` trains one replicate per seed (``rge@0``, ``rge@1``, ...);
tables name the base run (``rge``) and read this file, printing ``mean ± sd`` with the number
of seeds. The library is ``rge.report.seeds.pool_summaries``.

Config keys read (cfg slice: ``rge.config.slice_for(config, "pool_seeds", ...)``):
    run (str): the base run, e.g. ``rge``.
    mode (str): ``direct`` | ``reasoning``.
    replicates (list[str]): registry runs in seed order, e.g. ["rge@0", "rge@1", "rge@2"].
    seeds (list[int]): their training seeds, same order.

Inputs:
    summary: the replicates' ``score_mmeb`` summaries, in ``replicates`` order (repeat the name).
    train_summary: their ``train_run`` summaries, same order (repeat the name).
Outputs:
    pooled: JSON in the ``score_mmeb`` shape (overall, IND, OOD, meta_task, tasks {acc}) holding
        the mean over replicates, plus ``sd`` (same structure, ddof 1; null at one seed),
        ``n``, ``seeds``, ``replicates``, ``by_replicate`` and ``train`` (each replicate's final
        training InfoNCE and its ratio to ln(candidates), and their means). Fractions in [0, 1].
"""

from __future__ import annotations

import logging

from rge.io import read_json, write_json
from rge.report.seeds import pool_summaries
from rge.stages._cli import Paths, as_list, stage_main

log = logging.getLogger(__name__)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Read the replicates' summaries, pool them, write the pooled file."""
    for key in ("run", "mode", "replicates", "seeds"):
        if key not in cfg:
            raise KeyError(f"pool_seeds: cfg lacks {key!r}; has {sorted(cfg)}")
    pooled = pool_summaries(
        cfg["run"], cfg["mode"], cfg["replicates"], cfg["seeds"],
        [read_json(p) for p in as_list(inputs.summary)],
        [read_json(p) for p in as_list(inputs.train_summary)],
    )  # fmt: skip
    sd = pooled["sd"]["overall"]
    log.info(
        "%s/%s: overall %.4f ± %s over %d seeds", cfg["run"], cfg["mode"], pooled["overall"],
        "n/a" if sd is None else f"{sd:.4f}", pooled["n"],
    )  # fmt: skip
    write_json(outputs.pooled, pooled)
    return pooled


def main(argv: list[str] | None = None):
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
