"""Deterministic fake encoders and tiny MMEB rows for the evaluation tests."""

from __future__ import annotations

import numpy as np

from rge.data.records import EvalRow, Item

COLOURS = ("red", "green", "blue", "yellow")


class WordEncoder:
    """Embeds an item as the one-hot of the first colour word in its text (else all-ones).

    Records every call so tests can check what was encoded and how often.
    """

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Item]]] = []

    def __call__(self, items: list[Item], side: str) -> np.ndarray:
        self.calls.append((side, list(items)))
        out = np.ones((len(items), len(COLOURS)), dtype=np.float32)
        for i, it in enumerate(items):
            words = it.text.split()
            hit = [c for c in COLOURS if c in words]
            if hit:
                out[i] = np.eye(len(COLOURS))[COLOURS.index(hit[0])]
        return out / np.linalg.norm(out, axis=1, keepdims=True)

    def encoded(self, side: str | None = None) -> list[Item]:
        """Every item passed to the encoder (optionally for one side)."""
        return [it for s, items in self.calls if side in (None, s) for it in items]


def constant_encoder(items: list[Item], side: str) -> np.ndarray:
    """The degenerate encoder: the same unit vector for everything."""
    return np.tile(np.array([[0.6, 0.8]], dtype=np.float32), (len(items), 1))


def colour_rows(task: str = "toy") -> list[EvalRow]:
    """Four rows; the WordEncoder gets rows 0, 1, 3 right and row 2 wrong (acc 0.75).

    Row 2's query names "blue" but its ground truth says "green"; row 3 repeats row 0's query
    and shares candidates with it (dedup must embed them once).
    """
    cands = {c: Item(f"the colour {c}") for c in COLOURS}
    q = {c: Item(f"<|image_1|> what colour is {c} here", f"/img/{c}.png") for c in COLOURS}
    spec = [
        ("red", ["red", "green", "blue"]),
        ("green", ["green", "red", "yellow"]),
        ("blue", ["green", "blue", "red"]),
        ("red", ["red", "blue", "yellow"]),
    ]
    return [
        EvalRow(f"{task}/{i}", task, q[qc], tuple(cands[c] for c in cs))
        for i, (qc, cs) in enumerate(spec)
    ]
