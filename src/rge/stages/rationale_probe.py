"""Rationale probe of one reasoning-mode evaluation (issue 12 item 2): are the rationales the
model writes right, and does P@1 follow them?

Scores each task's query rationales (``embed_eval``'s ``{task}.rationales.jsonl``) against the
synthetic benchmark's scene sidecar (``rge.evaluate.rationale_probe``): description right
(all four attributes) and answer right, and splits the task's P@1 by right / wrong rationale.
Planned only for synthetic studies (the hub's MMEB has no scenes). No model is run.

Config keys (cfg slice):
    run (str), mode (str): the evaluation (written into the output).
    tasks (dict): {task: {meta_task, split}} the evaluation scored.
    prompt_protocol (str): "mmeb" | "rge_release": the texts the queries were embedded with
        (their texts find the rationale of a query the evaluation deduplicated).

Inputs:
    evaluation: the ``embed_eval/{run}/{mode}`` folder.
    scenes: the ``make_synthetic`` folder (``scenes/eval/{task}.jsonl`` sidecars).
    data: the fetched eval task folders of ``tasks`` (repeat the name).
    prompt_tables (optional): the ``fetch_prompt_tables`` folder (``rge_release``).
    train_log (optional): the run's ``train_log.jsonl`` when it trained on self rationales
        (q_self): their correctness on the training rows goes under ``train``.
Outputs:
    probe: JSON {run, mode, tasks: {task: {n_queries, description_correct, answer_correct,
        p_at_1, p_at_1_<what>_right / _wrong, n_<what>_right / _wrong (what = description |
        answer), rows: {row key: {description, answer}}}}, mean: {description_correct,
        answer_correct, p_at_1, p_at_1_answer_right, p_at_1_answer_wrong}}, and with a
        ``train_log`` ``train``: ``rge.evaluate.rationale_probe.probe_training`` (final 50
        steps); fractions in [0, 1], means over tasks (subsets).
"""

from __future__ import annotations

from pathlib import Path

from rge.evaluate.rationale_probe import probe_evaluation, probe_training
from rge.io import read_jsonl, write_json
from rge.stages._cli import Paths, as_list, stage_main


def query_texts(cfg: dict, inputs: Paths) -> dict[str, dict[str, str]]:
    """``{task: {row key: query text}}`` as evaluation embedded them (protocol applied)."""
    from rge.data.protocol import eval_rows, tables_for
    from rge.evaluate.run import load_rows

    tables = tables_for(cfg["prompt_protocol"], inputs.get("prompt_tables"))
    by_name = {p.name: p for p in as_list(inputs.data)} if "data" in inputs else {}
    out = {}
    for task in cfg["tasks"]:
        if task not in by_name:
            raise FileNotFoundError(f"rationale_probe: no fetched eval folder for task {task!r}")
        rows = eval_rows(load_rows(by_name[task], task, {}), cfg["prompt_protocol"], tables)
        out[task] = {r.key: r.query.text for r in rows}
    return out


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Probe every task of the evaluation; write and return the probe."""
    tasks = list(cfg["tasks"])
    texts = query_texts(cfg, inputs)
    probe = probe_evaluation(Path(inputs.evaluation), Path(inputs.scenes), tasks, texts)
    result = {"run": cfg["run"], "mode": cfg["mode"], **probe}
    if "train_log" in inputs:
        result["train"] = probe_training(read_jsonl(inputs.train_log), Path(inputs.scenes))
    write_json(outputs.probe, result)
    return {
        "run": cfg["run"],
        "mode": cfg["mode"],
        "mean": probe["mean"],
        "train": result.get("train", {}).get("answer_correct"),
    }


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
