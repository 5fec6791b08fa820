"""Paper Fig. 4: LM and contrastive loss per step of the leakage diagnostics (``leakage_curves``).

The paper trains with the query embedding taken from the LM forward over the oracle rationale
r_o on perturbed triplets and reads the two loss curves: with (q, r_o, t_w) the LM loss falls
(r_o fits q) but the contrastive loss does not (nothing aligns (q, r_o) with t_w); with
(q_w, r_o, t) the LM loss barely falls (r_o does not fit q_w) yet the contrastive loss does:
the embedding aligns r_o with t and ignores the query, the leakage shortcut.
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Mapping, Sequence

from rge.io import atomic_path

VARIANT_ORDER = ("consistent", "wrong_target", "wrong_query")
TRIPLETS = {"consistent": "(q, r_o, t)", "wrong_target": "(q, r_o, t_w)",
            "wrong_query": "(q_w, r_o, t)"}  # fmt: skip
PAPER_READING = {
    "consistent": "reference (not shown in the paper): both losses fall",
    "wrong_target": "LM loss falls normally; contrastive loss does not fall",
    "wrong_query": "LM loss barely falls; contrastive loss still falls (the shortcut via r_o)",
}


def curve_rows(variant: str, log_rows: Sequence[dict], where: str) -> list[dict]:
    """(step, variant, lm, con) per step of one variant's step log; a gap raises naming it."""
    out = []
    for i, row in enumerate(log_rows):
        missing = [k for k in ("step", "lm", "con") if row.get(k) is None]
        if missing:
            raise ValueError(f"{where}: row {i} lacks {missing} (not an rge step log?)")
        out.append({"step": int(row["step"]), "variant": variant,
                    "lm": float(row["lm"]), "con": float(row["con"])})  # fmt: skip
    if not out:
        raise ValueError(f"{where}: empty step log")
    return out


def window_stats(rows: Sequence[dict], window: int) -> dict[str, float]:
    """Mean LM and contrastive loss over the first and the last ``window`` steps."""
    head, tail = rows[:window], rows[-window:]
    return {
        f"{part}_{key}": sum(r[key] for r in part_rows) / len(part_rows)
        for part, part_rows in (("first", head), ("final", tail))
        for key in ("lm", "con")
    }


def moving_average(values: Sequence[float], n: int) -> list[float]:
    """Trailing mean over up to ``n`` values (``n`` <= 1: the values themselves)."""
    if n <= 1:
        return list(values)
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - n] if i >= n else 0.0)
        out.append(total / min(i + 1, n))
    return out


def curves_csv(curves: Mapping[str, list[dict]]) -> str:
    """All variants' rows as CSV: step, variant, lm, con."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, ["step", "variant", "lm", "con"], lineterminator="\n")
    writer.writeheader()
    for rows in curves.values():
        writer.writerows(rows)
    return buf.getvalue()


def plot_curves(
    curves: Mapping[str, list[dict]],
    ln_batch: float,
    path: str | os.PathLike,
    *,
    smooth: int = 1,
    title: str = "",
) -> None:
    """Two panels (LM loss, contrastive loss vs step), one line per variant, ln(B) reference
    on the contrastive panel; written atomically as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for variant, rows in curves.items():
        steps = [r["step"] for r in rows]
        label = f"{variant} {TRIPLETS.get(variant, '')}".strip()
        for ax, key in zip(axes, ("lm", "con"), strict=True):
            ax.plot(steps, moving_average([r[key] for r in rows], smooth), label=label, lw=1.2)
    axes[1].axhline(ln_batch, color="grey", ls="--", lw=1, label=f"ln(B) = {ln_batch:.2f}")
    axes[1].axhline(0.8 * ln_batch, color="grey", ls=":", lw=1, label="0.8 ln(B): learned")
    # WHY a fixed range: early spikes (InfoNCE at temperature 0.03 can start far above ln B)
    # would squeeze the region that tells the variants apart, the band just under ln B
    axes[1].set_ylim(0, 1.3 * ln_batch)
    names = ("(a) LM loss (token-weighted mean)", "(b) contrastive loss (InfoNCE)")
    for ax, name in zip(axes, names, strict=True):
        ax.set_title(name, fontsize=10)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)


def figure4_note(
    header: Sequence[str],
    stats: Mapping[str, dict[str, float]],
    ln_batch: float,
    window: int,
    not_paper: str | None = None,
) -> str:
    """Markdown: header lines, what the paper shows, our first/final-window losses per variant."""
    out = ["# Figure 4: information leakage diagnostics", "", *[f"{h}  " for h in header], ""]
    out += [
        "What the paper shows: with the query embedding taken from the LM forward over the oracle "
        "rationale r_o, (q, r_o, t_w) trains the LM loss but not the contrastive loss, while "
        "(q_w, r_o, t) hardly trains the LM loss yet the contrastive loss still falls: the "
        "embedding aligns r_o with t and ignores the query.",
        "",
    ]
    if not_paper:
        out += [not_paper, ""]
    out += [
        f"Mean losses over the first and the final {window} steps; ln(B) = {ln_batch:.3f} is the "
        "InfoNCE of an embedding that cannot tell the batch's targets apart.",
        "",
        "| variant | triplet | LM first | LM final | InfoNCE first | InfoNCE final | "
        "final InfoNCE / ln(B) | paper's reading |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant, s in stats.items():
        out.append(
            f"| {variant} | {TRIPLETS.get(variant, '?')} | {s['first_lm']:.3f} | "
            f"{s['final_lm']:.3f} | {s['first_con']:.3f} | {s['final_con']:.3f} | "
            f"{s['final_con'] / ln_batch:.2f} | {PAPER_READING.get(variant, '')} |"
        )
    return "\n".join(out) + "\n"
