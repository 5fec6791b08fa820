"""A small fake ``data/`` tree with the layout the study writes, for the report and notebook tests.

Numbers are drawn from a seeded generator so the tests can compare the report / notebook output
with what was written here.
"""

from __future__ import annotations

import math
import random
from pathlib import Path

from PIL import Image

from rge.data.mmeb import write_eval_parquet
from rge.io import write_json, write_jsonl, write_text

TASKS = {"SynA": ("classification", "IND"), "SynB": ("vqa", "OOD")}
RUNS = {"baseline": ["direct"], "rge": ["direct", "reasoning"]}
N_ROWS = 6
N_CANDS = 3
COLOURS = ("red", "green", "blue")


def write_train_run(folder: Path, run: str | None, objective: str, steps: int, seed: int) -> None:
    """``train_log.jsonl`` + ``summary.json`` as ``rge.train.loop`` writes them."""
    rng = random.Random(seed)
    rows = []
    for step in range(1, steps + 1):
        lm = None if objective == "baseline" else 3.0 / step + rng.random() * 0.1
        con = None if objective == "lm" else 2.0 - step / steps + rng.random() * 0.1
        loss = sum(x for x in (lm, con) if x is not None)
        row = {"step": step, "loss": loss, "lm": lm, "con": con, "lr": 1e-3, "subset": "SynA"}
        if objective == "rge":
            row |= {"self_tokens": 10 + rng.random(), "forced_emb": rng.random() * 0.1}
        rows.append(row)
    write_jsonl(folder / "train_log.jsonl", rows)
    cons = [r["con"] for r in rows[-5:] if r["con"] is not None]
    summary = {
        "objective": objective,
        "init": "backbone",
        "steps": steps,
        "final_con": sum(cons) / len(cons) if cons else None,
        "ln_batch": math.log(4),
        "ln_candidates": math.log(5),
        "settings": {"run": run, "batch_size": 4},
    }
    write_json(folder / "summary.json", summary)


def write_eval_task(root: Path, task: str) -> Path:
    """A fetched eval task: parquet + images; candidate 0 is the truth (the query's colour)."""
    folder = root / "fetch_mmeb_eval" / task
    rows = []
    for i in range(N_ROWS):
        image = f"{task}/q{i}.png"
        path = folder / "eval_images" / image
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (16, 16), COLOURS[i % 3]).save(path)
        names = [COLOURS[(i + j) % 3] for j in range(N_CANDS)]
        rows.append(
            {
                "qry_text": f"<|image_1|>\nWhich colour? row {i}",
                "qry_img_path": image,
                "tgt_text": [f"cand-{n}-{i}" for n in names],
                "tgt_img_path": [""] * N_CANDS,
            }
        )
    write_eval_parquet(folder / task / "test-00000-of-00001.parquet", rows)
    return folder


def write_eval_outputs(root: Path, run: str, mode: str, task: str, seed: int) -> dict:
    """``embed_eval/{run}/{mode}/{task}``: score JSON, predictions and rationales."""
    rng = random.Random(seed)
    meta, split = TASKS[task]
    preds = []
    for i in range(N_ROWS):
        pred = rng.randrange(N_CANDS)
        preds.append({"key": f"{task}/{i}", "pred": pred, "correct": pred == 0})
    folder = root / "embed_eval" / run / mode
    reasoning = mode == "reasoning"
    # tasks differ in rationale count and length, so weighted and plain means differ
    extra, n_rat = (0, N_ROWS) if task == "SynA" else (4, N_ROWS - 2)
    rats = [
        {"key": f"{task}/{i}", "side": "query", "rationale": f"rationale-{run}-{task}-{i}",
         "n_tokens": 5 + i + extra, "forced": i == 0}
        for i in range(n_rat)
    ] if reasoning else []  # fmt: skip
    n_correct = sum(p["correct"] for p in preds)
    score = {
        "acc": n_correct / N_ROWS, "num_correct": n_correct, "num_pred": N_ROWS, "task": task,
        "run": run, "mode": mode, "meta_task": meta, "split": split, "target_mode": "direct",
        "max_new_tokens": 8 if reasoning else None, "num_rationales": len(rats),
        "mean_rationale_tokens": sum(r["n_tokens"] for r in rats) / len(rats) if rats else None,
        "forced_emb_rate": sum(r["forced"] for r in rats) / len(rats) if rats else None,
    }  # fmt: skip
    write_json(folder / f"{task}.json", score)
    write_jsonl(folder / f"{task}.predictions.jsonl", preds)
    write_jsonl(folder / f"{task}.rationales.jsonl", rats)
    return score


def write_score_mmeb(root: Path, run: str, mode: str, scores: list[dict]) -> dict:
    """``score_mmeb/{run}/{mode}.json`` aggregating the task scores (paper's aggregates)."""
    metas: dict[str, list[float]] = {}
    splits: dict[str, list[float]] = {}
    for s in scores:
        metas.setdefault(s["meta_task"], []).append(s["acc"])
        splits.setdefault(s["split"], []).append(s["acc"])
    summary = {
        "run": run,
        "mode": mode,
        "meta_task": {m: sum(v) / len(v) for m, v in metas.items()},
        **{k: sum(v) / len(v) for k, v in splits.items()},
        "overall": sum(s["acc"] for s in scores) / len(scores),
        "num_tasks": len(scores),
        "tasks": {s["task"]: {"acc": s["acc"]} for s in scores},
    }
    write_json(root / "score_mmeb" / run / f"{mode}.json", summary)
    return summary


TABLE_MD = """# Table 9: fake table

Config (study): `fake`; runs: baseline (direct){BR}
Precision@1 in %.{BR}

| source | model | score |
|---|---|---|
| ours | baseline \\| direct | 12.5 |
| paper (reference only) | Someone | 40.0 |

> NOT a reproduction of the paper's numbers.
""".replace("{BR}", "  ")  # two trailing spaces: a line break


def write_data_tree(root: Path) -> dict:
    """The whole fake tree; returns what was written (paths and numbers) for assertions."""
    write_train_run(root / "train_run" / "baseline", "baseline", "baseline", 30, 1)
    write_train_run(root / "train_run" / "rge", "rge", "rge", 30, 2)
    write_train_run(root / "cold_start", None, "lm", 20, 3)
    probe = {
        "probe": {"accuracy": {"left_color": 0.97, "right_shape": 0.93}, "n_scenes": 50},
        "probe_threshold": 0.9,
        "passed": True,
    }
    write_json(root / "pretrain_backbone" / "probe.json", probe)
    summaries = {}
    for seed, (run, modes) in enumerate(RUNS.items()):
        for mode in modes:
            scores = [
                write_eval_outputs(root, run, mode, task, 10 * seed + k + len(mode))
                for k, task in enumerate(TASKS)
            ]
            summaries[(run, mode)] = write_score_mmeb(root, run, mode, scores)
    for task in TASKS:
        write_eval_task(root, task)
    write_text(root / "table9" / "table9.md", TABLE_MD)
    fig = root / "figure4" / "figure4.png"
    fig.parent.mkdir(parents=True)
    Image.new("RGB", (40, 20), "white").save(fig)
    return {"summaries": summaries, "probe": probe}


def report_argv(
    root: Path, out: Path, *, optional: bool = True, eval_dirs: bool = False
) -> list[str]:
    """The stage arguments a rule would pass for the fake tree (``optional=False``: only the
    tables and training logs; ``eval_dirs``: embed_eval folders instead of their files)."""
    args = ["--input", f"table={root / 'table9' / 'table9.md'}"]
    logs = [root / "train_run" / r for r in RUNS] + [root / "cold_start"]
    for d in logs:
        args += ["--input", f"train_log={d / 'train_log.jsonl'}"]
        args += ["--input", f"summary={d / 'summary.json'}"]
    if optional:
        args += ["--input", f"probe={root / 'pretrain_backbone' / 'probe.json'}"]
        args += ["--input", f"figure4={root / 'figure4' / 'figure4.png'}"]
        for run, modes in RUNS.items():
            for mode in modes:
                folder = root / "embed_eval" / run / mode
                if eval_dirs:
                    args += ["--input", f"embed_eval={folder}"]
                    continue
                args += [
                    a for f in sorted(folder.glob("*.json")) for a in ("--input", f"scores={f}")
                ]
                for kind in ("predictions", "rationales"):
                    for f in sorted(folder.glob(f"*.{kind}.jsonl")):
                        args += ["--input", f"{kind}={f}"]
        for task in TASKS:
            args += ["--input", f"eval_task={root / 'fetch_mmeb_eval' / task}"]
    return [*args, "--output", f"report={out}"]
