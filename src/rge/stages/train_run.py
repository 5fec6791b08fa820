"""Train one run of the experiment registry (paper §3.3; objective ``baseline`` = eq. 2 alone).

Reads the backbone and the prepared training records, trains with ``rge.train.loop.train`` and
writes the final model. Resume state lives in ``<output model>.ckpt/`` (checkpoints + the running
step log), outside the declared outputs, because Snakemake deletes the outputs of a failed job;
a rerun after a kill continues from the newest checkpoint, and the folder is removed on success.

Config keys read (cfg slice: the run's registry entry merged over the training defaults):
    objective (str, ``baseline``): a name in ``rge.train.objectives.OBJECTIVES``; the objective
        also reads its own keys from this slice (baseline: temperature (0.03), use_negatives
        (false), negatives_per_pair (1)); keys it does not declare are ignored.
    batch_size (int, 16): pairs per step, all from one subset.
    max_steps (int, 0): steps to train; 0 = ``epochs`` passes over the data.
    epochs (int, 1): used when max_steps is 0.
    lr (float, 1e-4), weight_decay (float, 0.0): AdamW peak lr and decay (matrices only).
    warmup_steps (int, 0), schedule (str, ``cosine`` | ``linear`` | ``constant``),
        min_lr_ratio (float, 0.0): linear warm-up, then decay to min_lr_ratio x lr.
    grad_clip (float, 1.0): max global gradient norm (0 = off).
    seed (int, 0): batch order, dropout and every other random draw.
    checkpoint_every (int, 0): steps between resume checkpoints (0 = only at the end).
    keep_checkpoints (int, 1): newest checkpoints kept.
    final_window (int, 20): steps averaged for the summary's final losses.
    min_pixels, max_pixels (int, required): image processor resolution bounds.
    dtype (str, ``float32``), attn_implementation (str, ``sdpa``): how the backbone is loaded.
    threads (int, 0): torch CPU threads (0 = torch's default).
    device (str, ``auto``): ``cuda`` when available else ``cpu`` (auto), or a torch device name.
    progress (bool, true): tqdm progress bar on stderr.

Inputs:
    model: backbone directory (``load_pretrained`` format).
    train: one or more prepared records JSONL files (``prepare_train`` output), concatenated.
Outputs:
    model: directory with the final weights + processor (loadable by ``load_pretrained``).
    train_log: JSONL, one row per step: step, loss, con, lm, lr, grad_norm, seconds, subset, ...
    summary: JSON: steps, wall time, ms/step, first and final-window loss, final-window InfoNCE,
        ln(batch size) and ln(candidates per query) (InfoNCE near the latter = nothing learned),
        data and settings used.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections import Counter
from pathlib import Path
from typing import Any

import torch
import transformers

from rge.data.mmeb import read_train_records
from rge.io import write_json, write_text
from rge.stages._cli import Paths, stage_main
from rge.train.loop import LoopSettings, train
from rge.train.objectives import make_objective

log = logging.getLogger(__name__)

DEFAULTS: dict[str, Any] = {
    "objective": "baseline", "batch_size": 16, "max_steps": 0, "epochs": 1,
    "lr": 1e-4, "weight_decay": 0.0, "warmup_steps": 0, "schedule": "cosine", "min_lr_ratio": 0.0,
    "grad_clip": 1.0, "seed": 0, "checkpoint_every": 0, "keep_checkpoints": 1, "final_window": 20,
    "dtype": "float32", "attn_implementation": "sdpa", "threads": 0, "device": "auto",
    "progress": True,
}  # fmt: skip
# LoopSettings fields set from the config (betas keep AdamW's defaults)
_LOOP_KEYS = [f.name for f in dataclasses.fields(LoopSettings) if f.name in DEFAULTS]


def work_dir_for(model_out: Path) -> Path:
    """Where a run keeps its resume state: a sibling of the declared model output."""
    return model_out.with_name(model_out.name + ".ckpt")


def load_pairs(paths: Path | list[Path]) -> list:
    """All records of the given prepared JSONL files, in the order given."""
    paths = paths if isinstance(paths, list) else [paths]
    pairs = [p for path in paths for p in read_train_records(path)]
    if not pairs:
        raise ValueError(f"no training records in {[str(p) for p in paths]}")
    return pairs


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Train the run and write model, step log and summary; return the summary."""
    from rge.model.factory import load_pretrained, save_pretrained

    missing = [k for k in ("min_pixels", "max_pixels") if k not in cfg]
    if missing:
        raise KeyError(f"train_run: cfg lacks required key(s) {missing}")
    c = {**DEFAULTS, **cfg}
    if c["threads"]:
        torch.set_num_threads(int(c["threads"]))
    pairs = load_pairs(inputs.train)
    model, processor = load_pretrained(
        str(inputs.model),
        dtype=c["dtype"],
        min_pixels=int(c["min_pixels"]),
        max_pixels=int(c["max_pixels"]),
        attn_implementation=c["attn_implementation"],
    )
    device = (
        c["device"] if c["device"] != "auto" else "cuda" if torch.cuda.is_available() else "cpu"
    )
    model.to(device)
    settings = LoopSettings(**{k: c[k] for k in _LOOP_KEYS})
    objective = make_objective(c["objective"], c)
    work = work_dir_for(Path(outputs.model))
    stats = train(
        model, processor, pairs, objective, settings, work_dir=work, progress=bool(c["progress"])
    )
    save_pretrained(model, processor, outputs.model)
    write_text(outputs.train_log, (work / "log.jsonl").read_text())
    summary = {
        **stats,
        "objective": c["objective"],
        "pairs": len(pairs),
        "pairs_per_subset": dict(sorted(Counter(p.subset for p in pairs).items())),
        "settings": {k: c[k] for k in sorted(c) if k != "progress"},
        "device": str(device),
        "threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
    }
    write_json(outputs.summary, summary)
    shutil.rmtree(work)  # the run is complete: its resume state is no longer needed
    log.info(
        "trained %d steps in %.1f s: final loss %.4f, final InfoNCE %s vs ln(candidates) %.3f",
        stats["steps"], stats["wall_s"], stats["final_loss"], stats["final_con"],
        stats["ln_candidates"],
    )  # fmt: skip
    return summary


def main(argv: list[str] | None = None) -> dict:
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
