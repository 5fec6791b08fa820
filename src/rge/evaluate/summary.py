"""One run x mode's MMEB summary from its per-task scores (paper Table 2 and §10's Table 15).

Per meta-task mean, IND mean, OOD mean and overall = unweighted mean over tasks, as the paper
and VLM2Vec report them (``rge.evaluate.metrics.aggregate``), plus the rationale statistics
across tasks.
"""

from __future__ import annotations

from pathlib import Path

from rge.evaluate.metrics import aggregate
from rge.io import read_json

RATIONALE_KEYS = ("num_rationales", "mean_rationale_tokens", "forced_emb_rate")
# the strict tie rule beside the release's (None in a score written before it existed)
STRICT_KEYS = ("acc_strict", "num_correct_strict")
# how the vectors were made: one value per run x mode (every task is encoded the same way)
ENCODING_KEYS = ("prompt_protocol", "dtype", "attn_implementation")


def score_files(paths: list[Path], cfg: dict) -> list[Path]:
    """Per-task score JSONs; an ``embed_eval`` output folder stands for the ``{task}.json``
    files of every task in ``cfg["tasks"]``."""
    files = []
    for path in paths:
        files += [path / f"{t}.json" for t in cfg["tasks"]] if path.is_dir() else [path]
    return files


def collect(paths: list[Path], cfg: dict) -> dict[str, dict]:
    """Read the task scores and check them against the run, mode and task registry in cfg.

    Args:
        paths: one ``embed_eval`` score JSON per task.
        cfg: ``run``, ``mode`` and ``tasks`` ({task: {meta_task, split}}).

    Returns:
        {task: {acc, num_correct, num_pred, meta_task, split, acc_strict,
        num_correct_strict, prompt_protocol, dtype, attn_implementation, num_rationales,
        mean_rationale_tokens, forced_emb_rate}} (a key absent from a score is None).

    Raises:
        ValueError: a task not in the registry, scored twice or missing, or a score whose
            run, mode, meta-task or split disagrees with ``cfg`` (naming the file).
    """
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
        tasks[task].update({k: rec.get(k) for k in (*STRICT_KEYS, *ENCODING_KEYS, *RATIONALE_KEYS)})
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


def encoding(tasks: dict[str, dict]) -> dict:
    """{prompt_protocol, dtype, attn_implementation} shared by every task (None if unrecorded).

    Raises:
        ValueError: the tasks disagree (a run x mode mixes prompt protocols or dtypes).
    """
    out = {}
    for key in ENCODING_KEYS:
        values = {r.get(key) for r in tasks.values()}
        if len(values) > 1:
            raise ValueError(f"tasks disagree on {key}: {sorted(map(str, values))}")
        out[key] = values.pop() if values else None
    return out


def summarize_scores(paths: list[Path], cfg: dict) -> dict:
    """The summary of one run x mode from its task scores (files or ``embed_eval`` folders).

    Returns:
        {run, mode, tasks, meta_task: {name: mean}, IND, OOD, overall, num_tasks,
        prompt_protocol, dtype, attn_implementation, eval_only (``cfg["eval_only"]``: a
        checkpoint evaluated without training), num_rationales, mean_rationale_tokens,
        forced_emb_rate}; accuracies (``acc``: the release's rule; per task also
        ``acc_strict``) are fractions.

    Raises:
        ValueError: see ``collect``.
    """
    tasks = collect(score_files(paths, cfg), cfg)
    agg = aggregate(
        {t: r["acc"] for t, r in tasks.items()},
        {t: r["meta_task"] for t, r in tasks.items()},
        {t: r["split"] for t, r in tasks.items()},
    )
    summary = {"run": cfg["run"], "mode": cfg["mode"], "tasks": tasks, **agg, **encoding(tasks)}
    summary["eval_only"] = bool(cfg.get("eval_only", False))
    summary.update(rationale_summary(tasks))
    return summary
