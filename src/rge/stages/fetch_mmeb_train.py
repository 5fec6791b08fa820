"""Fetch one MMEB-train subset (hub or local mirror): its parquet plus its extracted images.

Config keys read (cfg slice, as ``rge.config.FetchTrainView``):
    repo_id (str): hub dataset id, e.g. ``TIGER-Lab/MMEB-train``.
    revision (str): branch/tag/commit to pin (hub only).
    mirror (str): a local directory laid out like the repo; ``""`` = download from the hub.
    subset (str): subset folder name, e.g. ``ImageNet_1K`` or ``SynObjects``.
    split (str): parquet file prefix (``original`` | ``diverse_instruction``).

Inputs: none (``mirror``, when set, is read directly).
Outputs (each fetched folder also holds ``source.json``: repo, requested revision, the
resolved hub commit or the mirror it was read from):
    out: directory ``<subset>/<split>-*.parquet`` + ``images/<subset>/...`` (the zip
        extracted), i.e. the repo layout that ``load_train_pairs(out, subset)`` reads.
"""

from __future__ import annotations

import logging

from rge.config import FetchTrainView
from rge.data.hub import provenance, resolve_repo
from rge.data.mmeb import fetch_train_subset, train_patterns
from rge.io import atomic_dir, write_json
from rge.stages._cli import Paths, stage_main

log = logging.getLogger(__name__)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Resolve the repo, copy the subset's parquet and extract its images into ``outputs.out``."""
    view = FetchTrainView.from_slice(cfg)
    subset, split = view.subset, view.split
    repo = resolve_repo(
        view.repo_id,
        revision=view.hub_revision,
        mirror=view.mirror_dir,
        allow_patterns=train_patterns(subset, split),
    )
    source = provenance(view.repo_id, view.hub_revision, view.mirror_dir, repo)
    with atomic_dir(outputs.out) as tmp:
        write_json(tmp / "source.json", source)
        stats = fetch_train_subset(repo, subset, tmp, split)
    log.info("%s: %s parquet, %d images", subset, stats["parquet"], stats["images"])
    return stats


def main(argv: list[str] | None = None) -> dict:
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
