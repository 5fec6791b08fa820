"""The smoke study's trained numbers, stored with a tolerance calibrated on this machine.

Unlike the other golden values these come out of training, whose float sums depend on the
thread count (reduction order): ``tolerance`` is therefore measured, not guessed — the smoke
study is run twice, with one and with two torch threads per job, and each tolerance is three
times the largest difference seen between the two runs for that kind of number (never below
``FLOOR``). Regenerate with ``python -m tests.golden.regenerate --smoke DIR --rerun DIR2``.
"""

from __future__ import annotations

import json
from pathlib import Path

SMOKE = Path(__file__).with_name("smoke_metrics.json")
KINDS = ("loss", "score")
FLOOR = {"loss": 1e-4, "score": 0.02}  # a loss digit past float noise; one query in 50


def _read(path: Path) -> dict:
    return json.loads(path.read_text())


def smoke_metrics(root: Path) -> dict[str, dict[str, float]]:
    """``{"loss": {name: value}, "score": {name: value}}`` of a finished smoke study at ``root``.

    Losses: first and final training loss of the cold start and of every trained run; scores:
    overall P@1 (``acc``) of every run and mode, R@1 both ways of every retrieval score file.
    """
    loss: dict[str, float] = {}
    for summary in [
        root / "cold_start/summary.json",
        *sorted(root.glob("train_run/*/summary.json")),
    ]:
        name = summary.parent.name
        data = _read(summary)
        loss[f"{name}/first_loss"] = data["first_loss"]
        loss[f"{name}/final_loss"] = data["final_loss"]
    score: dict[str, float] = {}
    for path in sorted(root.glob("score_mmeb/*/*.json")):
        score[f"mmeb/{path.parent.name}/{path.stem}"] = _read(path)["overall"]
    for path in sorted(root.glob("score_retrieval/*/*/*.json")):
        data = _read(path)
        key = "/".join(path.relative_to(root / "score_retrieval").with_suffix("").parts)
        for side in ("t2i", "i2t"):
            score[f"retrieval/{key}/{side}/R@1"] = data[side]["R@1"]
    return {"loss": loss, "score": score}


def calibrate(first: dict, second: dict) -> dict[str, float]:
    """Per kind, max(3 × the largest |first − second|, ``FLOOR``); both runs must cover the
    same names (else ``ValueError`` naming the difference)."""
    tolerance = {}
    for kind in KINDS:
        if first[kind].keys() != second[kind].keys():
            diff = sorted(first[kind].keys() ^ second[kind].keys())
            raise ValueError(f"the two smoke runs differ in their {kind} names: {diff}")
        worst = max((abs(first[kind][k] - second[kind][k]) for k in first[kind]), default=0.0)
        tolerance[kind] = max(3 * worst, FLOOR[kind])
    return tolerance


def mismatches(stored: dict, metrics: dict) -> list[str]:
    """Human-readable lines for every stored number that ``metrics`` misses or moves past the
    stored tolerance (and for names the stored file lacks)."""
    out = []
    for kind in KINDS:
        tol = stored["tolerance"][kind]
        want, got = stored["metrics"][kind], metrics[kind]
        for name in sorted(want.keys() | got.keys()):
            if name not in got or name not in want:
                out.append(f"{kind} {name}: only in {'golden' if name in want else 'this run'}")
            elif abs(want[name] - got[name]) > tol:
                out.append(
                    f"{kind} {name}: {got[name]:.6g} vs golden {want[name]:.6g} (±{tol:.3g})"
                )
    return out
