"""Paper Fig. 4: the leakage diagnostics' LM and contrastive loss curves, plotted and tabulated.

Reads the ``leakage_curves`` step logs and summaries of the variants (consistent, wrong_target,
wrong_query; each summary names its variant) and writes a two-panel plot (LM loss and InfoNCE
vs step, one line per variant, ln(batch size) drawn on the InfoNCE panel), the curves as CSV and
a short markdown note: what the paper shows, then our first/final-window means per variant.

Config keys (cfg slice, as ``rge.config.ReportView``):
    study (str): the config's study name, printed in the note's header.
    Not config keys (the view's defaults):
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

from rge.config import ReportView
from rge.io import write_text
from rge.report.figure4 import build_figure4
from rge.report.leakage import curves_csv, plot_curves
from rge.stages._cli import Paths, as_list, stage_main


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Write the plot, the CSV and the note."""
    view = ReportView.from_slice(cfg)
    study = view.study
    fig = build_figure4(study, as_list(inputs.train_log), as_list(inputs.summary), view.window)
    plot_curves(fig.curves, fig.ln_batch, outputs.png, smooth=view.smooth,
                title=f"Leakage diagnostics ({study})")  # fmt: skip
    write_text(outputs.csv, curves_csv(fig.curves))
    write_text(outputs.md, fig.note)
    return {"variants": list(fig.curves), "ln_batch": fig.ln_batch, "stats": fig.stats}


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
