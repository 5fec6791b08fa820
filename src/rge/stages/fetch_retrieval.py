"""Fetch a Flickr30K/COCO-5K-style retrieval set (royokong layout; hub or local mirror).

Config keys read (cfg slice, as ``rge.config.FetchRetrievalView``):
    repo_id (str): hub dataset id, e.g. ``royokong/flickr30k_test`` or ``royokong/coco_test``.
    revision (str): branch/tag/commit to pin (hub only).
    mirror (str): a local directory laid out like the repo; ``""`` = download from the hub.
    bench (str): the set's name, stored in the manifest (e.g. ``flickr30k``, ``SynFlickr``).
    captions_per_image (int): captions kept per image (COCO has some with more; the
        schema's ``tasks.retrieval.<bench>.max_captions``).

Inputs: none (``mirror``, when set, is read directly).
Outputs (each fetched folder also holds ``source.json``: repo, requested revision, the
resolved hub commit or the mirror it was read from):
    out: directory ``images/<i>.<ext>`` + ``retrieval.json`` (captions image-major, caption j
        belongs to image j // captions_per_image), read by ``load_retrieval_set(out)``.
"""

from __future__ import annotations

import logging

from rge.config import FetchRetrievalView
from rge.data.hub import provenance, resolve_repo
from rge.data.retrieval import fetch_retrieval, retrieval_patterns
from rge.io import atomic_dir, write_json
from rge.stages._cli import Paths, stage_main

log = logging.getLogger(__name__)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Resolve the repo and write its images and captions into ``outputs.out``."""
    view = FetchRetrievalView.from_slice(cfg)
    repo = resolve_repo(
        view.repo_id,
        revision=view.hub_revision,
        mirror=view.mirror_dir,
        allow_patterns=retrieval_patterns(),
    )
    source = provenance(view.repo_id, view.hub_revision, view.mirror_dir, repo)
    with atomic_dir(outputs.out) as tmp:
        write_json(tmp / "source.json", source)
        manifest = fetch_retrieval(
            repo, tmp, name=view.bench, captions_per_image=view.captions_per_image
        )
    stats = {"images": len(manifest["images"]), "captions": len(manifest["captions"])}
    log.info("%s: %d images, %d captions", view.bench, stats["images"], stats["captions"])
    return stats


def main(argv: list[str] | None = None) -> dict:
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
