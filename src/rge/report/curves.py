"""Training curves (total, LM and contrastive loss per step) as PNG bytes, drawn with matplotlib.

A curve is read from a ``train_log.jsonl`` (``rge.train.loop``: one row per step with ``step``,
``loss``, ``lm``, ``con``; a part the objective does not have is null). Raw values are drawn thin,
a moving average on top, and ln(batch size) / ln(candidates) as dashed lines: a contrastive loss
that stays there has learned nothing.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path

from rge.io import read_json, read_jsonl
from rge.report.html import data_uri, esc, figure, fmt_cell, table_html

PARTS = (("loss", "total loss"), ("lm", "LM loss"), ("con", "contrastive (InfoNCE)"))
RATIONALE_KEYS = ("self_tokens", "forced_emb")  # logged by the q_self objective


@dataclass
class Curve:
    """One run's per-step log plus the summary numbers drawn as reference lines."""

    run: str
    steps: list[int]
    series: dict[str, list[float | None]]
    summary: dict = field(default_factory=dict)

    def has(self, key: str) -> bool:
        """Whether the log has at least one value for ``key``."""
        return any(v is not None for v in self.series.get(key, []))


def run_name(folder: Path, summary: dict | None) -> str:
    """A training folder's run: the summary's ``settings.run``, else the folder name
    (``data/cold_start/`` → ``cold_start``)."""
    name = ((summary or {}).get("settings") or {}).get("run")
    return str(name) if name else folder.name


def read_curve(log: str | Path, summary: str | Path | None = None) -> Curve:
    """Read a train log and (optionally) its summary JSON.

    Raises:
        ValueError: a row without ``step`` (names the file and row).
    """
    log = Path(log)
    rows = read_jsonl(log)
    summ = read_json(summary) if summary is not None else {}
    steps = []
    for i, row in enumerate(rows):
        if "step" not in row:
            raise ValueError(f"{log}: row {i + 1} has no 'step' (keys {sorted(row)})")
        steps.append(int(row["step"]))
    keys = [k for k, _ in PARTS] + list(RATIONALE_KEYS)
    series = {k: [_num(r.get(k)) for r in rows] for k in keys}
    return Curve(run_name(log.parent, summ), steps, series, summ)


def _num(value: object) -> float | None:
    if value is None:
        return None
    x = float(value)  # type: ignore[arg-type]
    return x if math.isfinite(x) else None


def moving_average(values: list[float | None], window: int) -> list[float | None]:
    """Trailing mean over the last ``window`` non-null values (None where the value is None)."""
    out: list[float | None] = []
    recent: list[float] = []
    for v in values:
        if v is None:
            out.append(None)
            continue
        recent = (recent + [v])[-window:]
        out.append(sum(recent) / len(recent))
    return out


def smoothing_window(n: int) -> int:
    """About 1/25 of the run, at least 1 step."""
    return max(1, n // 25)


def drawn_parts(curve: Curve) -> list[str]:
    """The loss series worth drawing: the total only beside two parts (alone it repeats one)."""
    parts = [k for k in ("lm", "con") if curve.has(k)]
    return (["loss"] if len(parts) != 1 and curve.has("loss") else []) + parts


def plot_curve(curve: Curve, title: str) -> bytes:
    """The run's loss parts vs step (left) and, if logged, its self-rationale statistics (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    extra = any(curve.has(k) for k in RATIONALE_KEYS)
    fig, axes = plt.subplots(1, 2 if extra else 1, figsize=(11 if extra else 6.5, 3.6))
    axes = list(axes) if extra else [axes]
    window = smoothing_window(len(curve.steps))
    for key, label in PARTS:
        if key in drawn_parts(curve):
            _draw(axes[0], curve.steps, curve.series[key], window, label)
    for key, label in (("ln_batch", "ln(batch)"), ("ln_candidates", "ln(candidates)")):
        value = curve.summary.get(key)
        if value is not None and curve.has("con"):
            style = "--" if key == "ln_batch" else ":"
            axes[0].axhline(value, color="grey", ls=style, lw=1, label=f"{label} = {value:.2f}")
    axes[0].set(xlabel="step", ylabel="loss", title=f"{title}: losses (avg over {window})")
    legend_below(axes[0])
    if extra:
        _rationale_panel(axes[1], curve, window, title)
    return _png(fig)


def plot_contrastive(curves: list[Curve], labels: dict[str, str]) -> bytes:
    """The contrastive loss of several runs on one axis (moving averages), with ln(batch)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for curve in curves:
        window = smoothing_window(len(curve.steps))
        smooth = moving_average(curve.series["con"], window)
        pts = [(s, v) for s, v in zip(curve.steps, smooth, strict=True) if v is not None]
        ax.plot(*zip(*pts, strict=True), lw=1.5, label=labels.get(curve.run, curve.run))
    ln_b = next((c.summary["ln_batch"] for c in curves if c.summary.get("ln_batch")), None)
    if ln_b is not None:
        ax.axhline(ln_b, color="grey", ls="--", lw=1, label=f"ln(batch) = {ln_b:.2f}")
    ax.set(xlabel="step", ylabel="InfoNCE", title="contrastive loss by run (moving average)")
    legend_below(ax)
    return _png(fig)


def _rationale_panel(ax, curve: Curve, window: int, title: str) -> None:
    # lengths in tokens on the left axis, the forced-<emb> share (0..1) on its own right axis
    handles = []
    if curve.has("self_tokens"):
        _draw(ax, curve.steps, curve.series["self_tokens"], window, "self-rationale tokens")
        ax.set_ylabel("tokens")
        handles += ax.get_legend_handles_labels()[0]
    if curve.has("forced_emb"):
        right = ax.twinx()
        right.set_prop_cycle(color=["tab:red"])
        _draw(right, curve.steps, curve.series["forced_emb"], window, "forced <emb> share")
        right.set(ylim=(-0.02, 1.02), ylabel="share")
        handles += right.get_legend_handles_labels()[0]
    ax.set(xlabel="step", title=f"{title}: self-generated rationales")
    legend_below(ax, handles)


def legend_below(ax, handles: list | None = None):
    """The axis's legend under its x label, outside the plotting area, so no curve is hidden
    behind it (``_png`` saves with a tight bounding box that keeps it). Returns the legend."""
    kwargs = {"handles": handles} if handles is not None else {}
    n = len(handles if handles is not None else ax.get_legend_handles_labels()[0])
    return ax.legend(
        **kwargs, fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2),
        ncol=min(3, max(n, 1)), frameon=False,
    )  # fmt: skip


def _draw(ax, steps: list[int], values: list[float | None], window: int, label: str) -> None:
    pts = [(s, v) for s, v in zip(steps, values, strict=True) if v is not None]
    xs, ys = zip(*pts, strict=True)
    line = ax.plot(xs, ys, lw=0.5, alpha=0.35)[0]
    smooth = [v for v in moving_average(list(ys), window) if v is not None]
    ax.plot(xs, smooth, lw=1.5, color=line.get_color(), label=label)


def _png(fig) -> bytes:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


# share of ln(candidates) at or above which the InfoNCE counts as chance level
CHANCE_SHARE = 0.9
# share of ln(batch) at or below which the InfoNCE counts as "pairs trivially separable"
SHORTCUT_SHARE = 0.1


def diagnosis(summary: dict, probe_min: float | None, probe_threshold: float | None) -> str:
    """Read a run's two numbers: the backbone probe and the final InfoNCE against chance.

    Rules, in order: probe below its threshold → the backbone cannot see; no contrastive term →
    LM-only; final InfoNCE ≥ CHANCE_SHARE · ln(candidates) → nothing learned; final InfoNCE ≤
    SHORTCUT_SHARE · ln(batch) → suspiciously easy (look for a shortcut such as a leaked
    answer); otherwise learned with a backbone that sees.
    """
    if probe_min is not None and probe_threshold is not None and probe_min < probe_threshold:
        return "backbone probe below threshold: the model cannot see reliably"
    con, ln_c, ln_b = (
        summary.get("final_con"),
        summary.get("ln_candidates"),
        summary.get("ln_batch"),
    )
    if con is None:
        return "no contrastive term (LM-only run)"
    if ln_c is not None and con >= CHANCE_SHARE * ln_c:
        return "InfoNCE at chance level: nothing learned to tell candidates apart"
    if ln_b is not None and con <= SHORTCUT_SHARE * ln_b:
        return "InfoNCE near zero: training pairs trivially separable, suspect a shortcut"
    if probe_min is None:
        return "learned (InfoNCE well below chance); no probe given for the backbone"
    return "sees and learned: its scores measure the method, not the backbone's perception"


# ----------------------------------------------------------------------------- report sections


def probe_stats(probe: dict | None) -> tuple[float | None, float | None]:
    """(gated probe value, threshold) of a ``pretrain_backbone`` probe.json: the prompt probe's
    in-domain minimum (all-four-correct) when the file has one, else the lowest attribute
    accuracy under the captioning prompt (an older probe.json).

    The prompt probe describes the same held-out scenes under the captioning prompt too and
    counts a description right only when all four attributes are: the stricter number.
    """
    if probe is None:
        return None, None
    gate = (probe.get("prompt_probe") or {}).get("gate")
    if gate:
        return gate["value"], gate["threshold"]
    acc = (probe.get("probe") or {}).get("accuracy") or {}
    return (min(acc.values()) if acc else None), probe.get("probe_threshold")


def prompt_probe_html(prompt_probe: dict) -> str:
    """The prompt probe (issue 12 item 1): its gate, then each prompt's all-four-correct rate
    with its group; only the in-domain image prompts are gated."""
    gate = prompt_probe["gate"]
    verdict = "passed" if gate["passed"] else "FAILED"
    groups = {
        **dict.fromkeys(prompt_probe.get("text_only", []), "text only (not gated)"),
        **dict.fromkeys(prompt_probe.get("out_of_domain", []), "out of domain (not gated)"),
        **dict.fromkeys(prompt_probe["in_domain"], "in domain (gated)"),
    }
    rows = [
        [name, groups.get(name, "–"), res["n_scenes"], res["all_correct"]]
        for name, res in prompt_probe["prompts"].items()
    ]
    rows.sort(key=lambda r: (r[1] != "in domain (gated)", r[1], r[0]))
    return (
        f"<p>Prompt probe — gate <b>{esc(gate['name'])}</b>: minimum "
        f"{esc(fmt_cell(gate['value']))} ({esc(prompt_probe.get('min_in_domain_prompt'))}), "
        f"threshold {esc(gate['threshold'])}: <b>{verdict}</b>. Task queries are shown as "
        f"evaluation shows them (protocol {esc(prompt_probe.get('prompt_protocol'))}).</p>"
        + table_html(["prompt", "group", "scenes", "all four correct"], rows)
    )


def diagnostics_html(summaries: dict[str, dict], labels: dict[str, str], probe: dict | None) -> str:
    """The backbone probes (the captioning prompt's per-attribute accuracy; the prompt probe and
    its gate, when the file has one), then per run (in ``summaries`` order) the final InfoNCE
    against chance and its reading (``diagnosis``)."""
    low, threshold = probe_stats(probe)
    parts = []
    if probe is not None:
        caption = probe.get("probe") or {}
        acc = caption.get("accuracy") or {}
        parts.append(
            f"<p>Backbone perception probe under the captioning prompt (generated scene "
            f"descriptions, {esc(caption.get('n_scenes', '?'))} scenes; threshold "
            f"{esc(probe.get('probe_threshold'))}; passed, both probes: "
            f"{esc(probe.get('passed'))}). Every run starts from this backbone.</p>"
            + table_html(list(acc), [list(acc.values())])
        )
        if probe.get("prompt_probe"):
            parts.append(prompt_probe_html(probe["prompt_probe"]))
    rows = []
    for run, s in summaries.items():
        con, ln_c = s.get("final_con"), s.get("ln_candidates")
        ratio = con / ln_c if con is not None and ln_c else None
        rows.append(
            [
                labels.get(run, run), s.get("objective"), s.get("init"), low, con,
                s.get("ln_batch"), ln_c, ratio, diagnosis(s, low, threshold),
            ]
        )  # fmt: skip
    cols = ["run", "objective", "init", "backbone probe (gated minimum)", "final InfoNCE",
            "ln(batch)", "ln(candidates)", "InfoNCE / ln(cand.)", "reading"]  # fmt: skip
    parts.append(table_html(cols, rows))
    parts.append(
        f'<p class="note">Final InfoNCE = mean over the last training steps. Near '
        f"ln(candidates) (≥ {CHANCE_SHARE:.0%}) = chance; near zero (≤ {SHORTCUT_SHARE:.0%} "
        "of ln(batch)) = the training pairs are separable too easily. A probe below threshold "
        "means the backbone cannot see, whatever the loss.</p>"
    )
    return "\n".join(parts)


def curves_html(curves: list[Curve], labels: dict[str, str]) -> str:
    """One figure per run (in the given order), then the runs' contrastive losses together."""
    parts = []
    for c in curves:
        if c.steps:
            png = plot_curve(c, labels.get(c.run, c.run))
            parts.append(figure(data_uri(png, "image/png"), caption(c, labels)))
    with_con = [c for c in curves if c.has("con")]
    if len(with_con) > 1:
        png = plot_contrastive(with_con, labels)
        parts.append(figure(data_uri(png, "image/png"), "contrastive loss of every run"))
    return "\n".join(parts)


def caption(curve: Curve, labels: dict[str, str]) -> str:
    """ "<label>: objective …, init …, N steps"."""
    facts = [f"{k} {curve.summary[k]}" for k in ("objective", "init") if curve.summary.get(k)]
    facts.append(f"{curve.steps[-1]} steps")
    return f"{labels.get(curve.run, curve.run)}: " + ", ".join(facts)
