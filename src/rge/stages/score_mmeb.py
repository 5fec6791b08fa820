"""Aggregate one run × mode's per-task MMEB scores (paper Tables 2 and 15).

Per meta-task mean, IND mean, OOD mean and overall = unweighted mean over tasks, as the paper
and VLM2Vec report them. The task -> meta-task / split mapping comes from the config; a task
score whose own record disagrees with it, a task scored twice, a missing or an unexpected task
all raise.

Config keys (cfg slice):
    run (str), mode (str): which run and embedding mode the scores belong to.
    tasks (dict): {task: {meta_task: classification|vqa|retrieval|grounding, split: IND|OOD}}.

Inputs:
    scores: the ``embed_eval`` score JSONs of every task in ``tasks`` (repeat the name).
Outputs:
    summary: JSON {run, mode, tasks: {task: {acc, num_correct, num_pred, meta_task, split,
        num_rationales, mean_rationale_tokens, forced_emb_rate}}, meta_task: {name: mean}, IND,
        OOD, overall, num_tasks, num_rationales (sum over tasks), mean_rationale_tokens and
        forced_emb_rate (unweighted means over the tasks that have rationales; null if none)}
        (fractions in [0, 1]). A task score without rationale statistics (direct mode, or
        written before they existed) counts as having no rationales.
"""

from __future__ import annotations

import logging
from pathlib import Path

from rge.evaluate.metrics import aggregate
from rge.io import read_json, write_json
from rge.stages._cli import as_list, stage_main

log = logging.getLogger(__name__)


RATIONALE_KEYS = ("num_rationales", "mean_rationale_tokens", "forced_emb_rate")


def score_files(paths: list[Path], cfg: dict) -> list[Path]:
    """Per-task score JSONs; an ``embed_eval`` output folder stands for its ``{task}.json`` files."""
    files = []
    for path in paths:
        files += [path / f"{t}.json" for t in cfg["tasks"]] if path.is_dir() else [path]
    return files


def collect(paths: list[Path], cfg: dict) -> dict[str, dict]:
    """Read the task scores and check them against the run, mode and task registry in cfg."""
    registry = cfg["tasks"]
    tasks: dict[str, dict] = {}
    for path in paths:
        rec = read_json(path)
        task = rec.get("task")
        if task not in registry:
            raise ValueError(f"{path}: task {task!r} is not in cfg tasks")
        if task in tasks:
            raise ValueError(f"{path}: task {task!r} scored twice")
        for key in ("run", "mode"):
            if rec.get(key) != cfg[key]:
                raise ValueError(f"{path}: {key} {rec.get(key)!r} != cfg {cfg[key]!r}")
        for key in ("meta_task", "split"):
            if rec.get(key) != registry[task][key]:
                raise ValueError(
                    f"{path}: {key} {rec.get(key)!r} != registry {registry[task][key]!r}"
                )
        tasks[task] = {k: rec[k] for k in ("acc", "num_correct", "num_pred", "meta_task", "split")}
        tasks[task].update({k: rec.get(k) for k in RATIONALE_KEYS})
    missing = sorted(set(registry) - set(tasks))
    if missing:
        raise ValueError(f"no score for tasks {missing}")
    return tasks


def rationale_summary(tasks: dict[str, dict]) -> dict:
    """Rationale statistics across tasks: count summed, the two rates averaged over tasks."""
    with_r = [r for r in tasks.values() if r.get("num_rationales")]
    out: dict = {"num_rationales": sum(r["num_rationales"] for r in with_r)}
    for key in ("mean_rationale_tokens", "forced_emb_rate"):
        out[key] = sum(r[key] for r in with_r) / len(with_r) if with_r else None
    return out


def run(cfg: dict, inputs, outputs) -> dict:
    """Aggregate the task scores into the summary JSON."""
    tasks = collect(score_files(as_list(inputs.scores), cfg), cfg)
    agg = aggregate(
        {t: r["acc"] for t, r in tasks.items()},
        {t: r["meta_task"] for t, r in tasks.items()},
        {t: r["split"] for t, r in tasks.items()},
    )
    summary = {"run": cfg["run"], "mode": cfg["mode"], "tasks": tasks, **agg}
    summary.update(rationale_summary(tasks))
    log.info(
        "%s/%s: overall %.4f over %d tasks", cfg["run"], cfg["mode"], agg["overall"], len(tasks)
    )
    write_json(outputs.summary, summary)
    return summary


def main(argv: list[str] | None = None):
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
