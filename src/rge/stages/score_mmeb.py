"""Aggregate one run × mode's per-task MMEB scores (paper Tables 2 and 15).

Per meta-task mean, IND mean, OOD mean and overall = unweighted mean over tasks, as the paper
and VLM2Vec report them. The task -> meta-task / split mapping comes from the config; a task
score whose own record disagrees with it, a task scored twice, a missing or an unexpected task
all raise.

Config keys (cfg slice):
    run (str), mode (str): which run and embedding mode the scores belong to.
    tasks (dict): {task: {meta_task: classification|vqa|retrieval|grounding, split: IND|OOD}}.
    eval_only (bool, default false): the run is a checkpoint evaluated without training
        (recorded; tables label it *eval-only*).

Inputs:
    scores: the ``embed_eval`` score JSONs of every task in ``tasks`` (repeat the name).
Outputs:
    summary: JSON {run, mode, tasks: {task: {acc, num_correct, num_pred, meta_task, split,
        acc_strict, num_correct_strict, prompt_protocol, dtype, attn_implementation,
        num_rationales, mean_rationale_tokens, forced_emb_rate}}, meta_task: {name: mean}, IND,
        OOD, overall, num_tasks, prompt_protocol, dtype, attn_implementation, eval_only,
        num_rationales (sum over tasks), mean_rationale_tokens and
        forced_emb_rate (unweighted means over the tasks that have rationales; null if none)}
        (fractions in [0, 1]). A task score without rationale statistics (direct mode, or
        written before they existed) counts as having no rationales.
"""

from __future__ import annotations

import logging

from rge.evaluate.summary import summarize_scores
from rge.io import write_json
from rge.stages._cli import Paths, as_list, stage_main

log = logging.getLogger(__name__)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Aggregate the task scores into the summary JSON."""
    summary = summarize_scores(as_list(inputs.scores), cfg)
    log.info(
        "%s/%s: overall %.4f over %d tasks",
        cfg["run"], cfg["mode"], summary["overall"], len(summary["tasks"]),
    )  # fmt: skip
    write_json(outputs.summary, summary)
    return summary


def main(argv: list[str] | None = None):
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
