"""The on-disk form of oracle rationales: one JSONL row per MMEB-train row.

Row schema (every backend writes exactly these keys)::

    {"key": "<subset>/<row>",        # the TrainPair key the rationale belongs to
     "subset": "<subset>",
     "rationale": "<text, no <emb>>",
     "backend": "scene" | "hf" | "vllm",
     "model": "<model id or path>", "revision": "<revision or null>",
     "prompt_id": "<template id>", "prompt_hash": "<sha256 of the rendered template>",
     "sampling": {...},              # backend sampling parameters (temperature, max tokens, ...)
     "seed": <int>}
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from typing import Any

from rge.io import read_jsonl

FIELDS = (
    "key",
    "subset",
    "rationale",
    "backend",
    "model",
    "revision",
    "prompt_id",
    "prompt_hash",
    "sampling",
    "seed",
)


def read_rows(path: str | os.PathLike) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number from 1, row) of one rationale JSONL file, each row checked for ``FIELDS``.

    Raises ValueError naming the file and line of a row that lacks a field.
    """
    for lineno, row in enumerate(read_jsonl(path), 1):
        missing = [f for f in FIELDS if f not in row]
        if missing:
            raise ValueError(f"{path}:{lineno}: rationale row lacks {missing}")
        yield lineno, row


def read_rationales(paths: Iterable[str | os.PathLike]) -> dict[str, str]:
    """{row key: rationale} from rationale JSONL files (the oracle rationales r_o, paper §3.2).

    Raises ValueError naming the file and line of a row that lacks a ``FIELDS`` key or repeats
    a key already read (across all ``paths``); a missing file raises FileNotFoundError.
    """
    out: dict[str, str] = {}
    for path in paths:
        for lineno, row in read_rows(path):
            if row["key"] in out:
                raise ValueError(f"{path}:{lineno}: duplicate rationale for {row['key']!r}")
            out[row["key"]] = row["rationale"]
    return out
