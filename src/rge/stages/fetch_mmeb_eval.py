"""Fetch one MMEB-eval task (hub or local mirror): its parquet plus only its images.

Config keys read (cfg slice, as ``rge.config.FetchEvalView``):
    repo_id (str): hub dataset id, e.g. ``TIGER-Lab/MMEB-eval``.
    revision (str): branch/tag/commit to pin (hub only).
    mirror (str): a local directory laid out like the repo; ``""`` = download from the hub.
    task (str): task folder name, e.g. ``OK-VQA`` or ``SynCIRR``.

Inputs: none (``mirror``, when set, is read directly).
Outputs (each fetched folder also holds ``source.json``: repo, requested revision, the
resolved hub commit or the mirror it was read from):
    out: directory ``<task>/test-*.parquet`` + ``eval_images/<task>/...`` (the task's members
        of ``images.zip``), which ``load_eval_rows(out, task)`` reads.
"""

from __future__ import annotations

import logging

from rge.config import FetchEvalView
from rge.data.hub import provenance, resolve_repo
from rge.data.mmeb import eval_patterns, fetch_eval_task
from rge.io import atomic_dir, write_json
from rge.stages._cli import Paths, stage_main

log = logging.getLogger(__name__)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Resolve the repo, copy the task's parquet and extract its images into ``outputs.out``."""
    view = FetchEvalView.from_slice(cfg)
    task = view.task
    repo = resolve_repo(
        view.repo_id,
        revision=view.hub_revision,
        mirror=view.mirror_dir,
        allow_patterns=eval_patterns(task),
    )
    source = provenance(view.repo_id, view.hub_revision, view.mirror_dir, repo)
    with atomic_dir(outputs.out) as tmp:
        write_json(tmp / "source.json", source)
        stats = fetch_eval_task(repo, task, tmp)
    log.info("%s: %s parquet, %d images", task, stats["parquet"], stats["images"])
    return stats


def main(argv: list[str] | None = None) -> dict:
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
