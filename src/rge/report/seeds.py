"""Replicates of one run over training seeds, pooled: mean and sample sd (issue 12 item 3).

A registry entry with ``seeds: [0, 1, 2]`` trains ``rge@0``, ``rge@1``, ``rge@2`` (same data,
backbone and cold start; ``rge.config.expand_seeds``). ``pool_summaries`` turns their
``score_mmeb`` summaries and ``train_run`` summaries into one file with the ``score_mmeb``
shape (``overall``, ``IND``, ``OOD``, ``meta_task``, ``tasks`` {task: {acc}}) holding the MEAN
over replicates, the same structure under ``sd`` holding the sample standard deviation
(ddof = 1: the seeds are a sample of the seeds one could have drawn; ``None`` at one seed),
and the replicates' training facts (final-window InfoNCE and its ratio to ln(candidates):
near 1.0 the contrastive objective learned nothing). Scores stay fractions in [0, 1].

The seed-to-seed sd is the spread a reader must compare a difference against: at 250 queries
per task the binomial SE of a task's P@1 is 2-3 points, and the embedded baseline's seed sd was
measured at ~4.5 points on the 11-task mean (issue 12).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

SCALARS = ("overall", "IND", "OOD")
# rationale statistics of score_mmeb summaries, averaged over the replicates that have them
RATIONALE_STATS = ("mean_rationale_tokens", "forced_emb_rate")
# training settings that differ between replicates by construction
PER_REPLICATE = ("run", "seed")


def mean_sd(values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """(mean, sample sd with ddof 1) of ``values``; (None, None) if any is None (a group a
    replicate lacks), sd None for one value.

    >>> mean_sd([0.2, 0.4])
    (0.30000000000000004, 0.14142135623730953)
    """
    if not values or any(v is None for v in values):
        return None, None
    n = len(values)
    mean = math.fsum(values) / n
    if n < 2:
        return mean, None
    return mean, math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (n - 1))


def _check_replicates(summaries: Sequence[Mapping], replicates: Sequence[str], mode: str) -> None:
    """Each summary is its replicate's, in order, in ``mode``, over the same tasks."""
    if len(summaries) != len(replicates) or not summaries:
        raise ValueError(
            f"pool_seeds: {len(summaries)} score summaries for replicates {list(replicates)}"
        )
    tasks = sorted(summaries[0]["tasks"])
    for i, (s, rep) in enumerate(zip(summaries, replicates, strict=True)):
        for key in ("run", "mode", "tasks", "meta_task", *SCALARS):
            if key not in s:
                raise ValueError(f"pool_seeds: score summary {i} ({rep}) lacks {key!r}")
        if (s["run"], s["mode"]) != (rep, mode):
            raise ValueError(
                f"pool_seeds: score summary {i} is {s['run']}/{s['mode']}, expected {rep}/{mode}"
            )
        if sorted(s["tasks"]) != tasks:
            raise ValueError(
                f"pool_seeds: {rep} scored tasks {sorted(s['tasks'])}, {replicates[0]} {tasks}"
            )


def _pool_scores(summaries: Sequence[Mapping]) -> tuple[dict, dict]:
    """(means, sds) over the replicates in the score_mmeb shape."""
    mean: dict = {"meta_task": {}, "tasks": {}}
    sd: dict = {"meta_task": {}, "tasks": {}}
    for key in SCALARS:
        mean[key], sd[key] = mean_sd([s[key] for s in summaries])
    for mt in summaries[0]["meta_task"]:
        values = [s["meta_task"].get(mt) for s in summaries]
        mean["meta_task"][mt], sd["meta_task"][mt] = mean_sd(values)
    for task, first in summaries[0]["tasks"].items():
        m, d = mean_sd([s["tasks"][task]["acc"] for s in summaries])
        mean["tasks"][task] = {
            "acc": m,
            **{k: first[k] for k in ("meta_task", "split") if k in first},
        }
        sd["tasks"][task] = {"acc": d}
        strict = [s["tasks"][task].get("acc_strict") for s in summaries]
        if all(v is not None for v in strict):  # the tie-rule note compares it with acc
            mean["tasks"][task]["acc_strict"] = mean_sd(strict)[0]
    return mean, sd


def training_facts(train: Sequence[Mapping], replicates: Sequence[str]) -> dict:
    """The replicates' final training InfoNCE, its ratio to ln(candidates) and their means.

    Args:
        train: ``train_run`` summaries, one per replicate, in order (``final_con``,
            ``ln_batch``, optionally ``ln_candidates``, ``objective``, ``settings``).
        replicates: their registry names.

    Returns:
        {"final_con", "ratio" (means; None when a replicate logged no contrastive loss),
        "ln_batch", "ln_candidates", "objective", "settings" (shared, without run/seed),
        "replicates": {name: {"final_con", "ln_candidates", "ratio"}}}.

    Raises:
        ValueError: a count mismatch, a summary naming another run, or lacking a key.
    """
    if len(train) != len(replicates):
        raise ValueError(f"pool_seeds: {len(train)} training summaries for {list(replicates)}")
    per: dict[str, dict] = {}
    for s, rep in zip(train, replicates, strict=True):
        if s.get("run", rep) != rep:
            raise ValueError(f"pool_seeds: training summary of {s['run']!r} given for {rep!r}")
        for key in ("final_con", "ln_batch"):
            if key not in s:
                raise ValueError(f"pool_seeds: training summary of {rep} lacks {key!r}")
        ln_c = float(s.get("ln_candidates") or s["ln_batch"])
        con = None if s["final_con"] is None else float(s["final_con"])
        per[rep] = {
            "final_con": con, "ln_candidates": ln_c,
            "ratio": None if con is None else con / ln_c,
        }  # fmt: skip
    first = train[0]
    settings = {k: v for k, v in (first.get("settings") or {}).items() if k not in PER_REPLICATE}
    return {
        "final_con": mean_sd([p["final_con"] for p in per.values()])[0],
        "ratio": mean_sd([p["ratio"] for p in per.values()])[0],
        "ln_batch": float(first["ln_batch"]),
        "ln_candidates": first.get("ln_candidates"),
        "objective": first.get("objective", settings.get("objective")),
        "settings": settings,
        "replicates": per,
    }


def pool_summaries(
    run: str,
    mode: str,
    replicates: Sequence[str],
    seeds: Sequence[int],
    summaries: Sequence[Mapping],
    train: Sequence[Mapping],
) -> dict:
    """One seeded run x mode pooled over its replicates (the ``pool_seeds`` file).

    Args:
        run: the base run (``rge``); tables name it.
        mode: ``direct`` | ``reasoning``.
        replicates: registry runs in seed order (``rge@0``, ...).
        seeds: their training seeds, same order.
        summaries: their ``score_mmeb`` summaries, same order.
        train: their ``train_run`` summaries, same order.

    Returns:
        {run, mode, n, seeds, replicates, overall, IND, OOD, meta_task, tasks {task: {acc,
        meta_task, split}}, num_tasks, sd {overall, IND, OOD, meta_task, tasks {task: {acc}}},
        by_replicate {name: {overall, IND, OOD}}, train (``training_facts``), eval_only False,
        prompt_protocol, and the mean rationale statistics}; fractions in [0, 1].

    Raises:
        ValueError: the summaries are not the replicates' (run, mode, order, task set).
    """
    _check_replicates(summaries, replicates, mode)
    if len(seeds) != len(replicates):
        raise ValueError(f"pool_seeds: seeds {list(seeds)} for replicates {list(replicates)}")
    mean, sd = _pool_scores(summaries)
    stats = {}
    for key in RATIONALE_STATS:
        values = [s[key] for s in summaries if s.get(key) is not None]
        stats[key] = mean_sd(values)[0] if values else None
    return {
        "run": run, "mode": mode, "n": len(replicates), "seeds": [int(s) for s in seeds],
        "replicates": list(replicates), **mean, "num_tasks": len(mean["tasks"]), "sd": sd,
        "by_replicate": {r: {k: s[k] for k in SCALARS} for r, s in zip(replicates, summaries, strict=True)},
        "train": training_facts(train, replicates), "eval_only": False,
        "prompt_protocol": summaries[0].get("prompt_protocol"), **stats,
    }  # fmt: skip


def format_mean_sd(mean: float | None, sd: float | None) -> str | float | None:
    """A pooled percentage as table text: ``"32.0 ± 4.5"``; the mean alone (a float, printed
    with one decimal) when there is no sd (one seed); None stays None."""
    if mean is None:
        return None
    if sd is None:
        return float(mean)
    return f"{mean:.1f} ± {sd:.1f}"


def is_pooled(summary: Mapping) -> bool:
    """Whether a score summary is a ``pool_seeds`` file (it has ``sd`` and ``n``)."""
    return "sd" in summary and "n" in summary


def score_cell(summary: Mapping, *path: str) -> str | float | None:
    """A score of a ``score_mmeb`` summary or a pooled file as a table cell, in %.

    Args:
        summary: either file; ``path`` walks into it, e.g. ``("overall",)``,
            ``("meta_task", "vqa")``, ``("tasks", "SynObjects", "acc")``.

    Returns:
        A single run's score as a float (one decimal when printed); a pooled score as
        ``"mean ± sd"`` text (the mean alone at one seed); None where the summary has none.
    """
    mean = _dig(summary, path)
    if mean is None:
        return None
    if not is_pooled(summary):
        return 100.0 * float(mean)
    sd = _dig(summary["sd"], path)
    return format_mean_sd(100.0 * float(mean), None if sd is None else 100.0 * float(sd))


def _dig(data: Mapping, path: Sequence[str]) -> float | None:
    for key in path:
        if not isinstance(data, Mapping) or data.get(key) is None:
            return None
        data = data[key]
    return data  # type: ignore[return-value]


def seeds_marker(summary: Mapping) -> str:
    """How many seeds a row of ours stands for: ``mean ± sd (n=3)``, ``1 seed``, or "" for an
    eval-only checkpoint (not trained here, nothing seeded)."""
    if is_pooled(summary):
        return f"mean ± sd (n={summary['n']})" if summary["n"] > 1 else "1 seed"
    return "" if summary.get("eval_only") else "1 seed"


def pooled_train(summaries: Sequence[Mapping]) -> dict[str, dict]:
    """The training facts of the pooled files among ``summaries``, by base run, in the shape
    of a ``train_run`` summary (``final_con`` and ``ratio`` are means over the replicates,
    ``replicates`` gives each one's), for the tables' notes and templated labels."""
    out: dict[str, dict] = {}
    for s in summaries:
        if is_pooled(s) and "train" in s:
            out[s["run"]] = {"run": s["run"], "n": s["n"], **s["train"]}
    return out
