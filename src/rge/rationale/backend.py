"""The interface every oracle-rationale backend implements, and what it is asked.

A backend turns ``OracleRequest``s (a training row plus its rendered oracle prompt) into one
rationale string each, in order: the oracle rationale r_o of paper §3.2 (eq. 4, drawn from a
large MLLM, InternVL3.5-38B in the paper). Its ``name``/``model``/``revision``/``sampling`` attributes are
the provenance written into every rationale row (``rge.rationale.store``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from rge.data.records import TrainPair
from rge.rationale.prompts import RenderedPrompt


@dataclass(frozen=True)
class OracleRequest:
    """One row to write a rationale for."""

    pair: TrainPair
    prompt: RenderedPrompt

    @property
    def key(self) -> str:
        """The row key (``<subset>/<row>``)."""
        return self.pair.key


@runtime_checkable
class RationaleBackend(Protocol):
    """Writes oracle rationales; attributes are recorded as provenance."""

    name: str  # "scene" | "hf" | "vllm"
    model: str  # model id or path ("" where there is none)
    revision: str | None
    sampling: dict[str, Any]  # sampling parameters, JSON-serialisable

    def generate(self, requests: Sequence[OracleRequest]) -> list[str]:
        """One rationale per request, in the same order (``len(out) == len(requests)``).

        Plain text without ``<emb>``; may be empty or over-long (``rge.rationale.checks``
        counts that later). A row's text depends on its key and the backend's seed, not on
        its batch neighbours, so shards and resumed runs agree.
        """
        ...


def row_seed(seed: int, key: str) -> int:
    """A per-row seed (31 bits) from the run seed and the row key.

    Derived from the key, not from the row's position, so a row gets the same rationale
    whichever shard or batch it lands in, and after a resume.
    """
    digest = hashlib.sha256(f"{seed}:{key}".encode()).digest()
    return int.from_bytes(digest[:4], "big") & 0x7FFFFFFF
