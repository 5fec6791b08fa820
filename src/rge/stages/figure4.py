"""Paper Fig. 4: the leakage diagnostics' LM and contrastive loss curves, plotted and tabulated.

Reads the ``leakage_curves`` step logs and summaries of the variants (consistent, wrong_target,
wrong_query; each summary names its variant) and writes a two-panel plot (LM loss and InfoNCE
vs step, one line per variant, ln(batch size) drawn on the InfoNCE panel), the curves as CSV and
a short markdown note: what the paper shows, then our first/final-window means per variant.

Config keys (cfg slice):
    study (str): the config's study name, printed in the note's header.
    smooth (int, default 1): trailing moving-average window of the plotted lines (the CSV
        keeps every step's raw values).
    window (int, default 20): steps averaged for the note's first/final losses.

Inputs:
    train_log: the ``leakage_curves`` step logs (JSONL), one per variant (repeat the name).
    summary: the ``leakage_curves`` summaries, in the same order as ``train_log``.
Outputs:
    png: figure4_leakage.png (two panels).
    csv: figure4_leakage.csv, columns step, variant, lm, con.
    md: the note.
"""

from __future__ import annotations

import math

from rge.io import read_json, read_jsonl, write_text
from rge.report.leakage import (
    VARIANT_ORDER,
    curve_rows,
    curves_csv,
    figure4_note,
    plot_curves,
    window_stats,
)
from rge.report.mmeb_tables import PAPER
from rge.stages._cli import Paths, as_list, stage_main


def load_curves(inputs: Paths) -> tuple[dict[str, list[dict]], dict[str, dict]]:
    """{variant: curve rows} and {variant: summary}, in VARIANT_ORDER (unknown names last)."""
    logs, summaries = as_list(inputs.train_log), as_list(inputs.summary)
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


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Write the plot, the CSV and the note."""
    curves, summaries = load_curves(inputs)
    ln_b = {round(float(s["ln_batch"]), 9) for s in summaries.values()}
    if len(ln_b) != 1:
        raise ValueError(f"figure4: the variants ran with different batch sizes (ln B {ln_b})")
    ln_batch = ln_b.pop()
    study, window = cfg["study"], int(cfg.get("window", 20))
    runs = ", ".join(
        f"leakage_curves/{v} ({s['steps']} steps, batch {round(math.exp(ln_batch))})"
        for v, s in summaries.items()
    )
    header = [f"Config (study): `{study}`; runs: {runs}", f"Paper: {PAPER}, Figure 4"]
    not_paper = None
    if study != "paper":
        not_paper = (
            f"NOT a reproduction of the paper's curves: the `{study}` study trains another model "
            "on other data; compare the shapes of the curves, not their values."
        )
    stats = {v: window_stats(rows, window) for v, rows in curves.items()}
    plot_curves(curves, ln_batch, outputs.png, smooth=int(cfg.get("smooth", 1)),
                title=f"Leakage diagnostics ({study})")  # fmt: skip
    write_text(outputs.csv, curves_csv(curves))
    write_text(outputs.md, figure4_note(header, stats, ln_batch, window, not_paper))
    return {"variants": list(curves), "ln_batch": ln_batch, "stats": stats}


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
