"""Calibrate the embedded study's training budget and its α / lr once (issue 12 item 6).

Runs, on the embedded study's own backbone and cold start (its upstream folders are linked, not
recomputed), short training runs of the registry's kinds under a config overlay, then applies the
rules below, which were written down before any of these runs:

- **Budget** (learning curve): `baseline_cs` (InfoNCE only, from the cold start) and `rge`
  (q_self at the config's α) at each of ``STEPS``. ``max_steps`` is the smallest budget after
  which doubling it lowers the baseline's final training InfoNCE / ln(candidates) by less than
  ``FLAT`` (the largest budget when it still falls). Baseline and RGE then train equally long.
- **α and lr**: at that budget, every α_lm:α_con of ``ALPHAS`` with every lr of ``LRS``. A
  setting is *admissible* when the rationales it wrote for its own training pairs in its last 50
  steps state the right answer in at least ``KEEP`` of them (training split, scored against the
  scene sidecar; ``rge.evaluate.rationale_probe.probe_training``). The pick is the admissible
  setting nearest the paper's 1:10 (``ALPHAS`` order), then the larger lr; with none
  admissible, the one with the highest training-row correctness. Evaluation P@1 is never read.

Usage (from the repository root, after ``make study`` has built ``data/embedded``)::

    python benchmarks/calibrate.py             # runs what is missing, prints + writes the result
    python benchmarks/calibrate.py -n          # the planned jobs only

Writes ``data/embedded_calibration/calibration.{md,json}``; the measured numbers and the values
taken into ``config/config.yaml`` are recorded in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

STEPS = (200, 400, 800)
ALPHAS = ((1, 10), (1, 1), (10, 1))  # nearest the paper's 1:10 first
LRS = (1e-3, 5e-4)  # larger first
KEEP = 0.9  # training-row rationale answer correctness an admissible setting keeps
FLAT = 0.05  # a doubling that lowers the baseline's InfoNCE / ln C by less: the curve is flat
SOURCE = Path("data/embedded")
ROOT = Path("data/embedded_calibration")
UPSTREAM = ("make_synthetic", "fetch_mmeb_train", "fetch_prompt_tables", "prepare_train",
            "pretrain_backbone", "oracle_rationales", "check_rationales", "select_cold_start",
            "cold_start")  # fmt: skip


def _lr_name(lr: float) -> str:
    return f"{lr:.0e}".replace("-0", "m").replace("-", "m")


def curve_runs() -> dict[str, dict]:
    """Registry entries of the learning curve."""
    runs = {}
    for n in STEPS:
        runs[f"cal_baseline_cs_{n}"] = {"objective": "baseline", "init": "cold_start",
                                         "max_steps": n, "eval_modes": ["direct"]}  # fmt: skip
        runs[f"cal_rge_{n}"] = {"objective": "rge", "pair": "q_self", "init": "cold_start",
                                "max_steps": n, "eval_modes": ["reasoning"]}  # fmt: skip
    return runs


def sweep_name(lm: int, con: int, lr: float, steps: int) -> str:
    """The run of one α / lr setting; the config's own (1:10, lr 1e-3) is the curve's rge run."""
    if (lm, con, lr) == (*ALPHAS[0], LRS[0]):
        return f"cal_rge_{steps}"
    return f"cal_a{lm}_{con}_lr{_lr_name(lr)}_{steps}"


def sweep_runs(steps: int) -> dict[str, dict]:
    """Registry entries of the α / lr sweep at ``steps`` (the curve's run left out)."""
    return {
        sweep_name(lm, con, lr, steps): {
            "objective": "rge",
            "pair": "q_self",
            "init": "cold_start",
            "max_steps": steps,
            "alpha_lm": lm,
            "alpha_con": con,
            "lr": lr,
            "eval_modes": ["reasoning"],
        }  # fmt: skip
        for lm, con in ALPHAS
        for lr in LRS
        if (lm, con, lr) != (*ALPHAS[0], LRS[0])
    }


def link_upstream(source: Path, root: Path) -> None:
    """Hard-link the study's upstream outputs (mtimes kept, so nothing upstream reruns)."""
    for name in UPSTREAM:
        if not (root / name).exists():
            if not (source / name).exists():
                raise FileNotFoundError(f"{source / name}: run `make study` first")
            shutil.copytree(source / name, root / name, copy_function=os.link)


def train(runs: dict[str, dict], dry: bool) -> None:
    """Train ``runs`` (their summaries and logs) with Snakemake under an overlay config."""
    overlay = {"study": ROOT.name, "mmeb_mirror": str(ROOT / "make_synthetic"), "runs": runs,
               "evaluate": {"cache_dir": ""}}  # fmt: skip
    ROOT.mkdir(parents=True, exist_ok=True)
    path = ROOT / "overlay.json"
    path.write_text(json.dumps(overlay, indent=1))
    targets = [str(ROOT / "train_run" / r / "summary.json") for r in runs]
    cmd = ["snakemake", *targets, "--cores", "2", "--workflow-profile",
           "workflow/profiles/default", "--configfile", "config/config.yaml", str(path)]  # fmt: skip
    subprocess.run(cmd + (["-n"] if dry else []), check=True)


def measure(run: str) -> dict:
    """Final InfoNCE / ln(candidates) and training-row rationale correctness of one run."""
    from rge.evaluate.rationale_probe import probe_training
    from rge.io import read_jsonl

    folder = ROOT / "train_run" / run
    s = json.loads((folder / "summary.json").read_text())
    ratio = s["final_con"] / s["ln_candidates"] if s.get("final_con") is not None else None
    rows = read_jsonl(folder / "train_log.jsonl")
    probe = probe_training(rows, ROOT / "make_synthetic")
    return {"ratio": ratio, "train_answer_correct": probe["answer_correct"],
            "train_description_correct": probe["description_correct"],
            "ms_per_step": s.get("ms_per_step")}  # fmt: skip


def pick_steps(baseline: dict[int, float]) -> int:
    """The budget rule on {steps: baseline ratio}."""
    for a, b in zip(STEPS, STEPS[1:], strict=False):
        if baseline[a] - baseline[b] < FLAT:
            return a
    return STEPS[-1]


def pick_setting(results: dict[tuple, dict]) -> tuple:
    """The α / lr rule on {(lm, con, lr): measure()}."""
    order = [(lm, con, lr) for lm, con in ALPHAS for lr in LRS]
    ok = [k for k in order if (results[k]["train_answer_correct"] or 0) >= KEEP]
    if ok:
        return ok[0]
    return max(order, key=lambda k: results[k]["train_answer_correct"] or 0)


def _fmt(x: float | None) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.3f}"


def report(curve: dict, steps: int, sweep: dict, pick: tuple) -> str:
    """The calibration as markdown: the learning curve, the sweep, both rules' outcomes."""
    lines = ["# Calibration of the embedded study (benchmarks/calibrate.py)", "",
             "## Learning curve", "",
             "| steps | baseline_cs InfoNCE / ln C | rge InfoNCE / ln C | rge train rationale right | rge ms/step |",
             "|---|---|---|---|---|"]  # fmt: skip
    for n in STEPS:
        b, r = curve[n]["baseline_cs"], curve[n]["rge"]
        lines.append(f"| {n} | {_fmt(b['ratio'])} | {_fmt(r['ratio'])} | "
                     f"{_fmt(r['train_answer_correct'])} | {r['ms_per_step']} |")  # fmt: skip
    lines += ["", f"Budget rule (doubling lowers the baseline's ratio by < {FLAT}): **{steps} steps**.",
              "", f"## α / lr at {steps} steps", "",
              "| α_lm:α_con | lr | InfoNCE / ln C | train rationale right | admissible |",
              "|---|---|---|---|---|"]  # fmt: skip
    for (lm, con, rate), m in sweep.items():
        ok = "yes" if (m["train_answer_correct"] or 0) >= KEEP else "no"
        lines.append(f"| {lm}:{con} | {rate:g} | {_fmt(m['ratio'])} | "
                     f"{_fmt(m['train_answer_correct'])} | {ok} |")  # fmt: skip
    lm, con, rate = pick
    lines += ["", f"α / lr rule (admissible: train rationale right ≥ {KEEP}; nearest 1:10, then "
              f"the larger lr): **{lm}:{con} at lr {rate:g}**."]  # fmt: skip
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-n", "--dry-run", action="store_true", help="plan only")
    ap.add_argument("--source", type=Path, default=SOURCE, help="the built embedded study")
    args = ap.parse_args(argv)
    link_upstream(args.source, ROOT)
    train(curve_runs(), args.dry_run)
    if args.dry_run:
        return 0
    curve = {n: {k: measure(f"cal_{k}_{n}") for k in ("baseline_cs", "rge")} for n in STEPS}
    steps = pick_steps({n: curve[n]["baseline_cs"]["ratio"] for n in STEPS})
    train(sweep_runs(steps), False)
    sweep = {
        k: measure(sweep_name(*k, steps))
        for k in [(lm, con, lr) for lm, con in ALPHAS for lr in LRS]
    }
    pick = pick_setting(sweep)
    text = report(curve, steps, sweep, pick)
    (ROOT / "calibration.md").write_text(text)
    result = {"steps": steps, "alpha_lm": pick[0], "alpha_con": pick[1], "lr": pick[2],
              "curve": {str(n): v for n, v in curve.items()},
              "sweep": {f"{a}:{c}@{r:g}": m for (a, c, r), m in sweep.items()}}  # fmt: skip
    (ROOT / "calibration.json").write_text(json.dumps(result, indent=1))
    print(text)
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
    raise SystemExit(main())
