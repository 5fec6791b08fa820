"""Where a dataset repository's files come from: the Hugging Face hub or a local mirror.

``resolve_repo`` returns a local directory laid out exactly like the hub repository. Everything
downstream reads that directory, so the hub and a mirror (e.g. the synthetic benchmark written
by ``make_synthetic``) go through the same code.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

log = logging.getLogger(__name__)


def resolve_repo(
    repo_id: str,
    *,
    revision: str | None = None,
    mirror: str | os.PathLike | None = None,
    allow_patterns: list[str] | None = None,
    cache_dir: str | os.PathLike | None = None,
) -> Path:
    """Return a local directory holding (at least) the files of a dataset repo we need.

    Args:
        repo_id: hub id, e.g. ``"TIGER-Lab/MMEB-train"``.
        revision: branch, tag or commit to pin (hub only; a mirror is taken as it is).
        mirror: a local directory laid out like the repo; ``None`` or ``""`` means the hub.
        allow_patterns: glob patterns of the files needed (hub: only these are downloaded;
            mirror: each pattern must match at least one file, checked up front).
        cache_dir: hub cache folder (default: the huggingface_hub default).

    Returns:
        The directory to read.

    Raises:
        FileNotFoundError: the mirror is missing or lacks a needed file.
    """
    if mirror:
        return _check_mirror(Path(mirror), allow_patterns or [])
    # Imported here: huggingface_hub is only needed when data really comes from the hub.
    from huggingface_hub import snapshot_download

    log.info("downloading %s@%s %s", repo_id, revision or "main", allow_patterns or "(all)")
    local = snapshot_download(
        repo_id,
        repo_type="dataset",
        revision=revision,
        allow_patterns=allow_patterns,
        cache_dir=cache_dir,
    )
    return Path(local)


def _check_mirror(mirror: Path, patterns: list[str]) -> Path:
    if not mirror.is_dir():
        raise FileNotFoundError(f"mirror directory {mirror} does not exist")
    for pattern in patterns:
        # Path.glob, not a walk of the whole tree: a real mirror may hold unzipped images.
        if not any(p.is_file() for p in mirror.glob(pattern)):
            raise FileNotFoundError(f"mirror {mirror} has no file matching {pattern!r}")
    log.info("using mirror %s", mirror)
    return mirror


def provenance(repo_id: str, revision: str | None, mirror: str | None, local: Path) -> dict:
    """Where a fetched copy came from; the hub cache path ends in the resolved commit SHA.

    Written next to every fetched subset/task/bench (``source.json``) so a run made with
    ``revision: main`` can be pinned afterwards to the commit it actually read.
    """
    name = Path(local).name
    commit = name if re.fullmatch(r"[0-9a-f]{40}", name) else None
    return {
        "repo_id": repo_id,
        "revision_requested": revision,
        "resolved_commit": None if mirror else commit,
        "mirror": str(mirror) if mirror else None,
    }
