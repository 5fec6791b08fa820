"""Merge the oracle-rationale shards of one training subset (paper §3.2) into one file's rows.

The shards must hold exactly one row per prepared record of the subset: a missing, extra or
duplicated key raises, naming the keys. The merged rows are sorted by key in row-number order
(``<subset>/2`` before ``<subset>/10``), whatever the sharding was.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from rge.data.mmeb import read_train_records
from rge.io import read_jsonl
from rge.rationale.store import FIELDS


def key_order(key: str) -> tuple:
    """Sort key: the subset, then the row number numerically (text order if not a number)."""
    head, _, tail = key.rpartition("/")
    return (head, 0, int(tail), "") if re.fullmatch(r"\d+", tail) else (head, 1, 0, tail)


def read_shards(paths: list[Path], subset: str) -> dict[str, dict]:
    """``{key: row}`` over all shards of ``subset``.

    Raises:
        ValueError: a row lacks a store field, belongs to another subset, or repeats a key
            (naming the file and line, and for a duplicate where the key was first seen).
    """
    rows: dict[str, dict] = {}
    where: dict[str, str] = {}
    for path in paths:
        for lineno, row in enumerate(read_jsonl(path), 1):
            missing = [f for f in FIELDS if f not in row]
            if missing:
                raise ValueError(f"{path}:{lineno}: rationale row lacks {missing}")
            if row["subset"] != subset:
                raise ValueError(
                    f"{path}:{lineno}: row of subset {row['subset']!r}, not {subset!r}"
                )
            key = row["key"]
            if key in rows:
                raise ValueError(f"{path}:{lineno}: duplicate key {key!r} (also in {where[key]})")
            rows[key], where[key] = row, f"{path}:{lineno}"
    return rows


def match_keys(rows: dict[str, dict], keys: list[str], records: Path) -> None:
    """Raise ``ValueError`` unless the rationale keys are exactly the record keys, naming up to
    ten missing and ten unknown keys."""
    missing = [k for k in keys if k not in rows]
    extra = sorted(set(rows) - set(keys), key=key_order)
    if missing or extra:
        raise ValueError(
            f"rationale shards do not match {records}: {len(missing)} record(s) without a "
            f"rationale {missing[:10]}, {len(extra)} rationale(s) for unknown keys {extra[:10]}"
        )


def merge_shards(shards: list[Path], subset: str, records: str | os.PathLike) -> list[dict]:
    """The rows of all ``shards``, checked against the subset's ``records`` and sorted by key.

    Args:
        shards: the ``oracle_rationales`` shard files of the subset.
        subset: the training subset.
        records: the subset's ``prepare_train`` JSONL; its keys are the rows expected.

    Returns:
        One row per record (``rge.rationale.store`` schema), in ``key_order``.

    Raises:
        ValueError: see ``read_shards`` and ``match_keys``.
    """
    keys = [p.key for p in read_train_records(records)]
    rows = read_shards(shards, subset)
    match_keys(rows, keys, Path(records))
    return [rows[k] for k in sorted(keys, key=key_order)]
