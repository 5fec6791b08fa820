"""Fetch the RGE release's three instruction-rewrite tables (prompt protocol ``rge_release``).

The tables are data the release publishes (GitHub ``MCG-NJU/RGE``, ``src/*.yaml``); they are
read at a pinned commit, like MMEB from the hub, or from a local mirror with the same layout
(the synthetic benchmark writes one for its own tasks). The fetch refuses tables that do not
load (``rge.data.protocol.load_tables``) and records what it read.

Config keys (cfg slice):
    repo_id (str, default "MCG-NJU/RGE"): the release repository.
    revision (str, default the pinned commit ``rge.data.protocol.RELEASE_COMMIT``): the full
        commit SHA to read.
    mirror (str): a local directory with ``src/<table>.yaml``; ``""`` = download.

Inputs: none (``mirror``, when set, is read directly).
Outputs:
    out: directory with ``instruction_replacements.yaml``, ``instruction_replacements-eval.yaml``,
        ``candidate_replacements.yaml`` and ``source.json`` (repo, commit or mirror, SHA-256 of
        each file).
"""

from __future__ import annotations

import logging

from rge.data.protocol import RELEASE_COMMIT, RELEASE_REPO, fetch_tables
from rge.io import atomic_dir, write_json
from rge.stages._cli import Paths, stage_main

log = logging.getLogger(__name__)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Copy the three tables into ``outputs.out`` and write ``source.json``."""
    with atomic_dir(outputs.out) as tmp:
        source = fetch_tables(
            tmp,
            repo=cfg.get("repo_id") or RELEASE_REPO,
            commit=cfg.get("revision") or RELEASE_COMMIT,
            mirror=cfg.get("mirror") or None,
        )
        write_json(tmp / "source.json", source)
    log.info("prompt tables from %s", source["mirror"] or f"{source['repo']}@{source['commit']}")
    return source


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
