"""Fetch an eval-only run's hub checkpoint, pinned, into the study (issue 11).

``rge.model.eval_only.prepare_checkpoint`` downloads ``repo_id`` at ``revision``, records the
commit that revision resolved to (``main`` today and next month may be different weights) and
checks that the tokenizer knows ``<emb>``: a checkpoint without it was not trained as an RGE
embedder and is refused, unless the entry sets ``add_emb`` (then ``load_pretrained`` adds a
fresh, untrained ``<emb>`` when the evaluation loads it). The snapshot is copied under the
study root, so the evaluation jobs read a fixed local folder whose content hash keys their
embedding cache.

Config keys (cfg slice):
    run (str): the eval-only run (written into the record).
    repo_id (str): hub model id, e.g. "MCG-NJU/RGE".
    revision (str): branch, tag or commit to download.
    add_emb (bool): accept a tokenizer without ``<emb>``.

Inputs: none.
Outputs:
    model: the checkpoint's files (``save_pretrained`` layout, symlinks resolved).
    source: JSON: run, name, revision_requested, resolved_commit, emb_token_id, emb_added,
        vocab_size.
"""

from __future__ import annotations

import logging
import shutil
from functools import partial

from rge.io import atomic_dir, write_json
from rge.model.eval_only import prepare_checkpoint
from rge.stages._cli import Paths, stage_main

log = logging.getLogger(__name__)


def run(cfg: dict, inputs: Paths, outputs: Paths, *, download=None) -> dict:
    """Pin, check and copy the checkpoint; write and return its record. ``download`` (a
    ``huggingface_hub.snapshot_download`` stand-in) is injectable for tests.

    Raises:
        rge.model.eval_only.CheckpointError: no ``<emb>`` without ``add_emb``, the hub is
            offline, or the download names no commit.
    """
    record = prepare_checkpoint(
        cfg["repo_id"], cfg["revision"], add_emb=bool(cfg["add_emb"]), download=download
    )
    with atomic_dir(outputs.model) as tmp:
        shutil.copytree(record.pop("local_path"), tmp, symlinks=False, dirs_exist_ok=True)
    record = {"run": cfg["run"], **record}
    write_json(outputs.source, record)
    log.info("%s: %s@%s", cfg["run"], record["name"], record["resolved_commit"])
    return record


def main(argv: list[str] | None = None, *, download=None) -> dict:
    """CLI entry point; tests inject ``download``."""
    return stage_main(partial(run, download=download), argv, __doc__)


if __name__ == "__main__":
    main()
