"""Train one run of the experiment registry (paper §3.4: ``baseline`` = eq. 2, ``rge`` = eq. 10).

Reads the backbone and the prepared training records, trains with ``rge.train.loop.train`` and
writes the final model. Resume state lives in ``<output model>.ckpt/`` (checkpoints + the running
step log), outside the declared outputs, because Snakemake deletes the outputs of a failed job;
a rerun after a kill continues from the newest checkpoint, and the folder is removed on success.

Config keys read (cfg slice: the run's registry entry merged over the training defaults):
    objective (str, ``baseline``): ``baseline`` | ``rge`` | ``lm`` (``OBJECTIVES``); the
        objective reads its own keys from this slice, keys it does not declare are ignored:
        baseline: temperature (0.03), use_negatives (false), negatives_per_pair (1),
            chunk_size (0).
        rge: the same plus pair (``q_self`` | ``q`` | ``q_oracle``), alpha_lm (1.0),
            alpha_con (10.0) (normalised to sum to 1), max_new_tokens (128: self-rationale cap).
        lm: chunk_size (0).
    chunk_size (int, 0): > 0 turns on the gradient cache with chunks of this many pairs (the
        contrastive batch stays ``batch_size``; memory is one chunk's).
    init (str, ``backbone``): ``backbone`` | ``cold_start``; wiring only (which model the rule
        passes as ``model``), recorded in the summary.
    deepspeed (str or null, null): path of a DeepSpeed JSON config (workflow/deepspeed/
        zero2.json | zero3.json): train through a DeepSpeed engine. Also used (with a ZeRO-2
        default) when launched on several processes (WORLD_SIZE > 1); ``batch_size`` is then
        the global batch, split over the ranks, candidates gathered across them.
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
    rationales (optional, repeatable): oracle rationale JSONL files (``rge.rationale.store``
        schema); required by ``rge`` with alpha_lm > 0 or pair ``q_oracle``, and by ``lm``:
        every training row must have one (a missing key raises, naming it).
Outputs:
    model: directory with the final weights + processor (loadable by ``load_pretrained``).
    train_log: JSONL, one row per step: step, loss, con, lm, lr, grad_norm, seconds, subset,
        candidates; rge ``q_self`` adds self_tokens (mean self-rationale length) and
        forced_emb (share of rows whose ``<emb>`` had to be appended).
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
    "progress": True, "chunk_size": 0, "init": "backbone", "deepspeed": None,
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
    missing = [k for k in ("min_pixels", "max_pixels") if k not in cfg]
    if missing:
        raise KeyError(f"train_run: cfg lacks required key(s) {missing}")
    c = {**DEFAULTS, **cfg}
    pairs = load_pairs(inputs.train)
    rationales = load_rationales(inputs.get("rationales"))
    objective = build_objective(c, rationales)
    if hasattr(objective, "check_rationales"):
        objective.check_rationales(pairs)  # fail now, not at the step that meets the gap
    return train_and_save(c, inputs.model, pairs, objective, outputs, stage="train_run")


def load_rationales(paths: Path | list[Path] | None) -> dict[str, str]:
    """{row key: oracle rationale} from zero or more rationale files."""
    from rge.rationale.store import read_rationales

    if not paths:
        return {}
    return read_rationales(paths if isinstance(paths, list) else [paths])


def build_objective(c: dict, rationales: dict[str, str]) -> Any:
    """The run's objective, with cross-rank gathering when several processes run."""
    from rge.train.distributed import world
    from rge.train.losses import dist_gather

    runtime: dict[str, Any] = {"rationales": rationales}
    if world()[1] > 1:
        runtime["gather_fn"] = dist_gather
    return make_objective(c["objective"], c, **runtime)


def train_and_save(
    c: dict,
    model_dir: Path,
    pairs: list,
    objective: Any,
    outputs: Paths,
    *,
    stage: str,
    extra: dict | None = None,
) -> dict:
    """Load the backbone, train (resumably) and write model, step log and summary.

    Shared by ``train_run`` and ``cold_start``; ``c`` is the config merged over ``DEFAULTS``;
    ``extra`` is merged into the summary.
    """
    from rge.model.factory import load_pretrained, save_pretrained
    from rge.train import distributed

    if c["threads"]:
        torch.set_num_threads(int(c["threads"]))
    model, processor = load_pretrained(
        str(model_dir),
        dtype=c["dtype"],
        min_pixels=int(c["min_pixels"]),
        max_pixels=int(c["max_pixels"]),
        attn_implementation=c["attn_implementation"],
    )
    rank, n_ranks, local = distributed.world()
    device = c["device"]
    if device == "auto":
        device = f"cuda:{local}" if torch.cuda.is_available() else "cpu"
    model.to(device)
    settings = LoopSettings(**{k: c[k] for k in _LOOP_KEYS})
    ds_config = None
    if distributed.wanted(c["deepspeed"]):
        ds_config = distributed.fill_config(
            distributed.load_config(c["deepspeed"]),
            batch_size=settings.batch_size,
            grad_clip=settings.grad_clip,
            on_gpu=str(device).startswith("cuda"),
        )
    work = work_dir_for(Path(outputs.model))
    stats = train(
        model, processor, pairs, objective, settings, work_dir=work,
        progress=bool(c["progress"]), deepspeed_config=ds_config,
        save=lambda m: save_pretrained(m, processor, outputs.model),
    )  # fmt: skip
    summary = {
        **stats,
        "objective": c["objective"],
        "init": c["init"],
        "pairs": len(pairs),
        "pairs_per_subset": dict(sorted(Counter(p.subset for p in pairs).items())),
        "settings": {k: c[k] for k in sorted(c) if k != "progress"},
        "device": str(device),
        "world_size": n_ranks,
        "deepspeed": ds_config,
        "threads": torch.get_num_threads(),
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        **(extra or {}),
    }
    if rank == 0:
        write_text(outputs.train_log, (work / "log.jsonl").read_text())
        write_json(outputs.summary, summary)
    if n_ranks > 1:
        torch.distributed.barrier()
    if rank == 0:
        shutil.rmtree(work)  # the run is complete: its resume state is no longer needed
    log.info(
        "%s: %d steps in %.1f s: final loss %.4f, final InfoNCE %s vs ln(candidates) %.3f",
        stage, stats["steps"], stats["wall_s"], stats["final_loss"], stats["final_con"],
        stats["ln_candidates"],
    )  # fmt: skip
    return summary


def main(argv: list[str] | None = None) -> dict:
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
