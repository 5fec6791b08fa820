"""Validate one fetched MMEB-train subset and write it as normalised TrainPair records.

Every row is checked (types, columns, image token vs image path, image files readable);
bad rows either stop the stage (``on_bad_row: raise``) or are left out and listed with
their reason in the report (``skip``) -- never dropped silently.

Config keys read (cfg slice, as ``rge.config.PrepareView``; defaults in the schema):
    subset (str): subset folder name.
    split (str): parquet file prefix.
    on_bad_row (str): ``raise`` or ``skip``.
    max_rows (int): keep only the first N valid rows (-1 = all), like MMEB's
        ``num_sample_per_subset``.
    check_images (bool, not a config key; default true): open every image header (false:
        existence only).

Inputs:
    fetched: the ``fetch_mmeb_train`` output directory of this subset.
Outputs:
    records: JSONL, one TrainPair per line (``key``, ``subset``, ``query``, ``pos``, ``negs``;
        items are ``{"text", "image"}`` with image paths relative to the JSONL's folder);
        read it with ``rge.data.mmeb.read_train_records``.
    report: JSON with rows read / kept / skipped, skipped counts per column and one entry
        (file, row, column, reason) per skipped row.
"""

from __future__ import annotations

import logging

from rge.config import PrepareView
from rge.data.mmeb import load_train_pairs, write_train_records
from rge.io import write_json
from rge.stages._cli import Paths, stage_main

log = logging.getLogger(__name__)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Load, validate and write the subset's records and report; return the report."""
    view = PrepareView.from_slice(cfg)
    subset = view.subset
    loaded = load_train_pairs(
        inputs.fetched,
        subset,
        split=view.split,
        on_bad_row=view.on_bad_row,
        check_images=view.check_images,
    )
    max_rows = view.max_rows
    pairs = loaded.records if max_rows < 0 else loaded.records[:max_rows]
    report = {"subset": subset, **loaded.report(), "written": len(pairs), "max_rows": max_rows}
    write_train_records(outputs.records, pairs)
    write_json(outputs.report, report)
    log.info(
        "%s: %d rows read, %d skipped, %d written",
        subset,
        loaded.n_rows,
        len(loaded.skipped),
        len(pairs),
    )
    return report


def main(argv: list[str] | None = None) -> dict:
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
