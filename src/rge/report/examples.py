"""What the runs generated and retrieved: worked examples and rationale statistics.

An example shows a query, the RGE run's rationale and each run's top-1 candidate.

Examples are chosen without randomness from the rows both runs predicted: first a row only the
RGE run got right, then one only the baseline got right, then one both got right, then one
neither did, and round again; within an outcome rows are taken task by task (row 0 of every
task, then row 1, ...). Showing wins and losses alike keeps the page honest.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from rge.data.records import IMAGE_TOKEN, EvalRow, Item
from rge.evaluate.metrics import META_TASKS
from rge.report.html import esc, table_html, thumbnail_uri

# outcome buckets, in the order examples are drawn: (baseline correct, rge correct)
BUCKETS: tuple[tuple[bool, bool], ...] = (
    (False, True),
    (True, False),
    (True, True),
    (False, False),
)
MAX_TEXT = 300


@dataclass(frozen=True)
class Pick:
    """One run's prediction for one row: the label it is shown under, the chosen candidate."""

    label: str
    pred: int
    correct: bool


def row_index(key: str) -> int:
    """The row number of a ``<task>/<row>`` key (-1 if it has none)."""
    tail = key.rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else -1


def pick_examples(
    outcomes: dict[str, dict[str, tuple[bool, bool]]], n: int
) -> list[tuple[str, str]]:
    """Choose ``n`` (task, row key) pairs from one meta-task's outcomes.

    Args:
        outcomes: {task: {row key: (baseline correct, rge correct)}}, tasks in display order.
        n: how many examples.
    """
    order = {task: i for i, task in enumerate(outcomes)}
    queues = []
    for bucket in BUCKETS:
        keys = [(t, k) for t, rows in outcomes.items() for k, o in rows.items() if o == bucket]
        keys.sort(key=lambda tk: (row_index(tk[1]), order[tk[0]], tk[1]))
        queues.append(keys)
    picked: list[tuple[str, str]] = []
    while len(picked) < n and any(queues):
        for queue in queues:
            if queue and len(picked) < n:
                picked.append(queue.pop(0))
    return picked


def item_html(item: Item, px: int) -> str:
    """An item's image thumbnail (if any) and its text without the image token."""
    text = item.text.replace(IMAGE_TOKEN, "").strip()
    if len(text) > MAX_TEXT:
        text = text[:MAX_TEXT] + " …"
    parts = []
    if item.image:
        parts.append(f'<img class="thumb" src="{thumbnail_uri(item.image, px)}" alt="image">')
    if text:
        parts.append(f"<div>{esc(text)}</div>")
    return "".join(parts) or "<em>(empty)</em>"


def pick_html(row: EvalRow, pick: Pick, px: int) -> str:
    """A run's top-1 candidate, marked correct or wrong."""
    if not 0 <= pick.pred < len(row.candidates):
        raise ValueError(
            f"{row.key}: {pick.label} predicts candidate {pick.pred} of {len(row.candidates)}"
        )
    mark = (
        '<span class="ok">✓ correct</span>' if pick.correct else '<span class="bad">✗ wrong</span>'
    )
    return f"{mark} (candidate {pick.pred})<br>{item_html(row.candidates[pick.pred], px)}"


def examples_table(
    rows: Sequence[tuple[EvalRow, str | None, list[Pick]]], labels: Sequence[str], px: int = 160
) -> str:
    """An HTML table with one example per row.

    Args:
        rows: (eval row, the RGE run's query rationale or None, the runs' picks in ``labels``
            order).
        labels: the runs' column titles.
        px: thumbnail size.
    """
    head = ["task / row", "query", "RGE rationale", *[f"top-1: {lab}" for lab in labels]]
    head.append("ground truth (candidate 0)")
    out = ["<table><tr>" + "".join(f"<th>{esc(h)}</th>" for h in head) + "</tr>"]
    for row, rationale, picks in rows:
        cells = [
            esc(row.key),
            item_html(row.query, px),
            esc(rationale) if rationale is not None else "–",
            *[pick_html(row, p, px) for p in picks],
            item_html(row.candidates[0], px),
        ]
        out.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    out.append("</table>")
    return '<div class="wide">' + "".join(out) + "</div>"


# ----------------------------------------------------------------------------- report sections


def outcomes(base: dict[str, dict] | None, rge: dict[str, dict] | None) -> dict:
    """{row key: (baseline correct, rge correct)} over the rows both predicted; with one side
    missing, that side counts as the other."""
    keys = set(base or rge or {}) & set(rge or base or {})
    out = {}
    for key in sorted(keys, key=row_index):
        b = bool(base[key]["correct"]) if base else None
        r = bool(rge[key]["correct"]) if rge else None
        out[key] = (b if b is not None else r, r if r is not None else b)
    return out


def examples_html(
    preds: dict[str, dict[str, dict[str, dict]]],
    rationales: dict[str, str],
    rows_of: Callable[[str], list[EvalRow]],
    meta_of: dict[str, str],
    labels: dict[str, str],
    n: int,
    px: int = 160,
) -> str:
    """Per meta-task, ``n`` examples with each side's top-1 candidate.

    Args:
        preds: {task: {side: {row key: predictions record (pred, correct)}}}, tasks in display
            order; sides are "baseline" and "rge".
        rationales: {row key: the RGE side's query rationale}.
        rows_of: the eval rows of a task (row i at index i); the caller leaves tasks without
            eval rows out of ``preds``.
        meta_of: {task: meta-task}; a task without one is not shown.
        labels: {side: column title}, for the sides shown, in column order.
        n: examples per meta-task.
        px: thumbnail size.
    """
    sides = list(labels)
    parts = []
    for meta in META_TASKS:
        tasks = [t for t in preds if meta_of.get(t) == meta and all(s in preds[t] for s in sides)]
        found = {t: outcomes(preds[t].get("baseline"), preds[t].get("rge")) for t in tasks}
        rows = []
        for task, key in pick_examples(found, n):
            picks = [
                Pick(labels[s], preds[task][s][key]["pred"], bool(preds[task][s][key]["correct"]))
                for s in sides
            ]
            rows.append((rows_of(task)[row_index(key)], rationales.get(key), picks))
        if rows:
            parts.append(f"<h3>{esc(meta)}</h3>" + examples_table(rows, list(labels.values()), px))
    return "\n".join(parts)


def rationale_stats_html(scores: list[dict], labels: dict[str, str]) -> str:
    """Mean rationale length and forced-``<emb>`` rate per run, modes and meta-task ("all" too),
    from ``embed_eval`` scores (runs in first-seen order); "" when no score has rationales."""
    groups: dict[tuple[str, str, str], list[dict]] = defaultdict(list)
    for s in scores:
        if s.get("mean_rationale_tokens") is None or not s.get("num_rationales"):
            continue
        side = f"{s['mode']}-{s.get('target_mode', 'direct')}"
        for meta in (s.get("meta_task") or "?", "all"):
            groups[(s["run"], side, meta)].append(s)
    runs = list(dict.fromkeys(k[0] for k in groups))
    meta_rank = {m: i for i, m in enumerate((*META_TASKS, "all"))}
    rows = []
    for run, side, meta in sorted(
        groups, key=lambda k: (runs.index(k[0]), k[1], meta_rank.get(k[2], -1))
    ):
        g = groups[(run, side, meta)]
        n = sum(s["num_rationales"] for s in g)
        mean = sum(s["mean_rationale_tokens"] * s["num_rationales"] for s in g) / n
        forced = sum((s.get("forced_emb_rate") or 0.0) * s["num_rationales"] for s in g) / n
        acc = sum(s["acc"] for s in g) / len(g)
        rows.append([labels.get(run, run), side, meta, len(g), n, mean, forced, 100 * acc])
    if not rows:
        return ""
    cols = ["run", "query-target mode", "meta-task", "tasks", "rationales",
            "mean rationale tokens", "forced <emb> rate", "mean P@1 %"]  # fmt: skip
    return table_html(cols, rows, digits=2) + (
        '<p class="note">Tokens per generated rationale (weighted by rationales); forced '
        "&lt;emb&gt; = share of rationales that hit the generation budget and had &lt;emb&gt; "
        "appended. A collapse shows as length near 0, a runaway as a forced rate near 1.</p>"
    )
