"""The append-only partial file that makes a rationale shard resumable.

Rows are appended and flushed to disk after every batch. A job killed mid-write leaves at most
one truncated last line, which ``read_partial`` drops; rows repeated by an earlier interrupted
resume are deduplicated by key (first one wins).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

from rge.io import write_jsonl

log = logging.getLogger(__name__)


def partial_path(output: str | os.PathLike) -> Path:
    """Where the rows of ``output`` accumulate until it is complete: ``<output>.partial``."""
    output = Path(output)
    return output.with_name(output.name + ".partial")


def read_partial(path: str | os.PathLike) -> dict[str, dict]:
    """``{key: row}`` from a partial file; a truncated last line is dropped, duplicates too.

    Raises:
        ValueError: a line other than the last is not valid JSON (names file and line).
    """
    path = Path(path)
    if not path.exists():
        return {}
    lines = path.read_text().splitlines()
    rows: dict[str, dict] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            if lineno == len(lines):  # the write a kill interrupted
                log.warning("%s: dropping truncated last line %d", path, lineno)
                continue
            raise ValueError(f"{path}:{lineno}: not valid JSON ({err})") from err
        rows.setdefault(row["key"], row)
    return rows


def rewrite_partial(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Replace the partial file (atomically) with exactly ``rows``."""
    write_jsonl(path, list(rows))


def append_rows(path: str | os.PathLike, rows: Iterable[dict]) -> None:
    """Append rows and force them to disk, so a kill after this returns loses nothing."""
    with open(path, "a") as fh:
        for row in rows:
            fh.write(json.dumps(row, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
