"""Pick the cold-start subset: a seeded sample of training rows, stratified by subset.

The paper cold-starts on a 160K subset of MMEB-train; here its size is config. Each subset
gets a share proportional to its size (largest-remainder rounding, so the shares sum to the
total exactly); rows within a subset are a seeded random sample.

Config keys read (cfg slice, as ``rge.config.SelectionView``):
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

from rge.config import SelectionView
from rge.data.cold_start import select_cold_start
from rge.io import write_json
from rge.stages._cli import Paths, as_list, stage_main

log = logging.getLogger(__name__)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Read the records' keys, allocate, sample and write the selection."""
    view = SelectionView.from_slice(cfg)
    selection = select_cold_start(as_list(inputs.records), view.size, view.seed)
    write_json(outputs.selection, selection)
    log.info(
        "cold-start selection: %d rows from %d subsets",
        selection["size"], len(selection["available"]),
    )  # fmt: skip
    return selection


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
