"""Paper Figure 4 (§3.5): the leakage diagnostics' curves and note, from the variants' files.

Each ``leakage_curves`` job writes a step log and a summary naming its variant (consistent,
wrong_target, wrong_query); Figure 4 puts the variants' LM and contrastive losses side by side.
Plotting and the CSV/markdown renderings are ``rge.report.leakage``'s; this module reads the
files, checks that they belong together and builds the note's text.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

from rge.io import read_json, read_jsonl
from rge.report.leakage import VARIANT_ORDER, curve_rows, figure4_note, window_stats
from rge.report.mmeb_tables import PAPER


@dataclass(frozen=True)
class Figure4:
    """What Figure 4 shows: {variant: curve rows} and {variant: summary} in ``VARIANT_ORDER``
    (unknown names last), the common ln(batch size), {variant: first/final-window means} and
    the markdown note."""

    curves: dict[str, list[dict]]
    summaries: dict[str, dict]
    ln_batch: float
    stats: dict[str, dict[str, float]]
    note: str


def read_variants(
    logs: Sequence[str | os.PathLike], summaries: Sequence[str | os.PathLike]
) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """{variant: curve rows} and {variant: summary}, in VARIANT_ORDER (unknown names last).

    Args:
        logs: the variants' step logs (JSONL), paired in order with ``summaries``.
        summaries: the variants' ``leakage_curves`` summary JSONs.

    Raises:
        ValueError: the two lists differ in length, a summary has no ``variant``, or a
            variant is given twice (naming the file).
    """
    if len(logs) != len(summaries):
        raise ValueError(f"figure4: {len(logs)} train_log inputs but {len(summaries)} summaries")
    curves, sums = {}, {}
    for log_path, sum_path in zip(logs, summaries, strict=True):
        summary = read_json(sum_path)
        variant = summary.get("variant")
        if not variant:
            raise ValueError(f"{sum_path}: not a leakage_curves summary (no 'variant')")
        if variant in curves:
            raise ValueError(f"{sum_path}: variant {variant!r} given twice")
        curves[variant] = curve_rows(variant, read_jsonl(log_path), str(log_path))
        sums[variant] = summary
    order = sorted(curves, key=lambda v: (VARIANT_ORDER + (v,)).index(v))
    return {v: curves[v] for v in order}, {v: sums[v] for v in order}


def build_figure4(
    study: str,
    logs: Sequence[str | os.PathLike],
    summaries: Sequence[str | os.PathLike],
    window: int = 20,
) -> Figure4:
    """Read the variants and build the figure's data and note.

    Args:
        study: the config's study name (a study other than ``paper`` gets a line saying the
            curves are not the paper's).
        logs, summaries: see ``read_variants``.
        window: steps averaged for the note's first/final losses.

    Raises:
        ValueError: see ``read_variants``; or the variants ran with different batch sizes
            (their InfoNCE chance levels, ln(B), would differ, so one reference line is wrong).
    """
    curves, sums = read_variants(logs, summaries)
    # rounded so that float noise from JSON does not split one batch size in two
    ln_b = {round(float(s["ln_batch"]), 9) for s in sums.values()}
    if len(ln_b) != 1:
        raise ValueError(f"figure4: the variants ran with different batch sizes (ln B {ln_b})")
    ln_batch = ln_b.pop()
    runs = ", ".join(
        f"leakage_curves/{v} ({s['steps']} steps, batch {round(math.exp(ln_batch))})"
        for v, s in sums.items()
    )
    header = [f"Config (study): `{study}`; runs: {runs}", f"Paper: {PAPER}, Figure 4"]
    not_paper = None
    if study != "paper":
        not_paper = (
            f"NOT a reproduction of the paper's curves: the `{study}` study trains another model "
            "on other data; compare the shapes of the curves, not their values."
        )
    stats = {v: window_stats(rows, window) for v, rows in curves.items()}
    note = figure4_note(header, stats, ln_batch, window, not_paper)
    return Figure4(curves, sums, ln_batch, stats, note)
