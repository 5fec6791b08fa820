"""The study's claims judged by the criteria written down before the run (issue 12 items 3, 8).

Reads, per claim arm ("<base run>:<mode>") and seed replicate, the per-query correctness of its
evaluation, the runs' training summaries and rationale probes, the backbone's probe report and
Figure 4's summaries, and judges every claim of the config with ``rge.report.claims``: paired
differences with 95 % hierarchical-bootstrap intervals, the minimum detectable effect printed
before the verdicts, one verdict per claim (shows / does not show / inconclusive, a failed
gate's ``fails_as`` such as "not trained", or "not run" when an arm is not in the study).

Facts the gates and the leakage claim read (``"<source>.<key>"``):
    <run>.infonce_ratio: final training InfoNCE / ln(candidates), mean over the run's replicates.
    <run>.answer_correct, <run>.description_correct: its reasoning-mode rationale probe, mean
        over tasks, then over replicates.
    <run>.train_answer_correct: the rationales a q_self run wrote for its own training pairs
        in its last steps (the probe's ``train`` part), mean over subsets, then replicates.
    backbone.prompt_probe_min: the backbone report's ``prompt_probe.min_in_domain`` (missing:
        the gate is unknown and the verdict inconclusive).
    figure4.<variant>: a Figure 4 run's final InfoNCE / ln(batch size).

Config keys (cfg slice):
    alpha_rule (optional): {runs, keep}: ``rge.report.claims.apply_alpha_rule``.
    study (str); design ({seed_sd, query_sd, power, alpha}); n_resamples (int); claims (list:
    the claim dicts); arms ({arm: {registry run: seed}}, empty when not run); replicates
    ({base run: [registry runs]}); eval_only ([arm]): arms never compared; tasks ([str]).
Inputs:
    evaluation: ``embed_eval/{run}/{mode}`` folders of every arm replicate (repeat the name).
    train_summary: ``train_run/{run}/summary.json`` of the trained replicates (repeat; may be
        absent).
    rationale_probe: ``rationale_probe/{run}/reasoning.json`` files (repeat; may be absent).
    probe: the backbone report (``pretrain_backbone/probe.json``).
    figure4: ``leakage_curves/{variant}/summary.json`` files (repeat; may be absent).
Outputs:
    md: the design (minimum detectable effects), then the claims table.
    csv: the claims table.
    json: {study, design, claims: [verdict rows with numbers]}.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np

from rge.io import read_json, read_jsonl, write_json, write_text
from rge.report.claims import (
    alpha_rule_markdown,
    apply_alpha_rule,
    claims_table,
    design_table,
    study_claims,
)
from rge.report.paper_tables import infonce_ratio
from rge.report.tables import to_csv, to_markdown
from rge.stages._cli import Paths, as_list, stage_main


def _files(inputs: Paths, name: str) -> list[Path]:
    return as_list(inputs[name]) if name in inputs else []


def _by_run(paths: list[Path], what: str) -> dict[str, Path]:
    """``.../<run>/<file>`` paths by run; a run given twice raises."""
    out: dict[str, Path] = {}
    for p in paths:
        if p.parent.name in out:
            raise ValueError(f"claims: {what} of run {p.parent.name!r} given twice ({p})")
        out[p.parent.name] = p
    return out


def read_arm(folders: Mapping[tuple[str, str], Path], reps: Mapping[str, int], mode: str,
             tasks: list[str]) -> tuple[dict, dict]:  # fmt: skip
    """An arm's ``{seed: {task: 0/1 array}}`` and ``{seed: {task: [row key]}}`` from its
    replicates' ``{task}.predictions.jsonl`` (tasks the evaluation did not score are left out).

    Raises:
        FileNotFoundError: a replicate's evaluation folder is not among the inputs.
        ValueError: two replicates share a seed.
    """
    correct, keys = {}, {}
    for run, seed in reps.items():
        if (run, mode) not in folders:
            raise FileNotFoundError(f"claims: no evaluation input embed_eval/{run}/{mode}")
        if seed in correct:
            raise ValueError(f"claims: two replicates with seed {seed} ({run})")
        correct[seed], keys[seed] = {}, {}
        for task in tasks:
            path = folders[run, mode] / f"{task}.predictions.jsonl"
            if path.exists():
                rows = read_jsonl(path)
                correct[seed][task] = np.array([float(bool(r["correct"])) for r in rows])
                keys[seed][task] = [r["key"] for r in rows]
    return correct, keys


def rationale_flags(probe: Mapping, keys: Mapping[str, list[str]], path: Path) -> dict:
    """``{task: 0/1 array}``: answer right per query, in the evaluation's row order."""
    out = {}
    for task, order in keys.items():
        rows = probe["tasks"].get(task, {}).get("rows")
        if rows is None or any(k not in rows for k in order):
            raise ValueError(f"{path}: task {task} lacks rationale flags of evaluated rows")
        out[task] = np.array([float(rows[k]["answer"]) for k in order])
    return out


def _mean(values: list) -> float | None:
    kept = [float(v) for v in values if v is not None]
    return sum(kept) / len(kept) if kept and len(kept) == len(values) else None


def run_facts(cfg: dict, train: Mapping[str, Path], probes: Mapping[str, dict]) -> dict:
    """``{base run: {infonce_ratio, answer_correct, description_correct,
    train_answer_correct}}`` (means over its replicates; None unless every replicate has the
    number)."""
    facts = {}
    for base, reps in cfg["replicates"].items():
        summaries = [read_json(train[r]) for r in reps if r in train]
        ratios = [infonce_ratio(s) for s in summaries]
        probed = [probes[r]["mean"] for r in reps if r in probes]
        on_train = [
            (probes[r].get("train") or {}).get("answer_correct") for r in reps if r in probes
        ]
        facts[base] = {
            "infonce_ratio": _mean(ratios) if ratios else None,
            **{k: _mean([p.get(k) for p in probed]) if probed else None
               for k in ("answer_correct", "description_correct")},
            "train_answer_correct": _mean(on_train) if on_train else None,
        }  # fmt: skip
    return facts


def evidence(cfg: dict, inputs: Paths) -> dict:
    """The evidence of ``rge.report.claims.judge_claims`` from the stage's input files."""
    folders = {(p.parent.name, p.name): p for p in _files(inputs, "evaluation")}
    probe_paths = _by_run(_files(inputs, "rationale_probe"), "rationale probe")
    probes = {r: read_json(p) for r, p in probe_paths.items()}
    arms, right = {}, {}
    for arm, reps in cfg["arms"].items():
        if not reps:
            continue
        mode = arm.partition(":")[2]
        arms[arm], keys = read_arm(folders, reps, mode, list(cfg["tasks"]))
        if mode == "reasoning" and all(r in probes for r in reps):
            right[arm] = {
                seed: rationale_flags(probes[r], keys[seed], probe_paths[r])
                for r, seed in reps.items()
            }
    facts = run_facts(cfg, _by_run(_files(inputs, "train_summary"), "training summary"), probes)
    backbone = read_json(inputs.probe)
    facts["backbone"] = {
        "prompt_probe_min": (backbone.get("prompt_probe") or {}).get("min_in_domain")
    }
    facts["figure4"] = {}
    for path in _files(inputs, "figure4"):
        s = read_json(path)
        facts["figure4"][s.get("variant") or path.parent.name] = (
            None if s.get("final_con") is None else float(s["final_con"]) / float(s["ln_batch"])
        )
    return {"arms": arms, "facts": facts, "rationale_right": right, "eval_only": cfg["eval_only"]}


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Judge the claims; write md, csv and json."""
    ev = evidence(cfg, inputs)
    rows = study_claims(cfg["claims"], ev, cfg["design"], int(cfg["n_resamples"]))
    table, design = claims_table(rows), design_table(rows, cfg["design"])
    table.header = [f"Config (study): `{cfg['study']}`; claims from the config's `claims:` block, "
                    "written down before the run; verdicts below are computed, never edited."]  # fmt: skip
    rule = apply_alpha_rule(cfg["alpha_rule"], ev["facts"]) if cfg.get("alpha_rule") else None
    md = to_markdown(design) + "\n" + to_markdown(table)
    write_text(outputs.md, md + ("\n" + alpha_rule_markdown(rule) if rule else ""))
    write_text(outputs.csv, to_csv(table))
    write_json(outputs.json, {"study": cfg["study"], "design": cfg["design"],
                              "claims": rows, "facts": ev["facts"], "alpha_rule": rule})  # fmt: skip
    return {r["claim"]: r["verdict"] for r in rows}


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
