"""One training run from files to files: the flow that ``train_run``, ``cold_start`` and
``leakage_curves`` share (paper §3.4 joint training, §4.1 LM-only cold start, §3.5 leakage).

Read the prepared records and oracle rationales, build the objective, load the backbone,
train it with ``rge.train.loop.train`` (resumable from ``<model>.ckpt/``), then write the final
model, the step log and a summary. The resume state lives beside the declared model output,
not inside it, because Snakemake deletes the outputs of a failed job: a rerun after a kill must
still find its checkpoints. It is removed once the run is complete.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from rge.config import LOOP_KEYS, MissingKeyError
from rge.data.mmeb import read_train_records
from rge.data.records import TrainPair
from rge.io import write_json, write_text
from rge.model.generation import GenerationSettings
from rge.train.loop import LoopSettings, train
from rge.train.objectives import Objective, make_objective

log = logging.getLogger(__name__)

# How a training job runs, which no config sets: checkpoints kept, steps averaged for the
# summary's final loss, weights dtype, attention kernel, torch threads (0: torch's default; the
# job's OMP_NUM_THREADS), device ("auto": the local rank's GPU, else CPU), progress bar.
RUNTIME: dict[str, Any] = {
    "keep_checkpoints": 1, "final_window": 20, "dtype": "float32", "attn_implementation": "sdpa",
    "threads": 0, "device": "auto", "progress": True,
}  # fmt: skip
# The slice keys every training job reads (``rge.config.slice_for`` fills the schema's defaults
# into them, so a missing one is a wiring error, not a setting to fall back on).
JOB_KEYS = ("seed", "min_pixels", "max_pixels", *LOOP_KEYS, "prompt_protocol")
# LoopSettings fields set from the slice or RUNTIME (betas keep AdamW's defaults)
_LOOP_KEYS = [f.name for f in dataclasses.fields(LoopSettings) if f.name in (*JOB_KEYS, *RUNTIME)]


def job_settings(cfg: Mapping[str, Any], stage: str, required: tuple[str, ...] = ()) -> dict:
    """A training job's settings: ``RUNTIME`` with the stage's config slice over it.

    Args:
        cfg: the stage's slice (``rge.config.slice_for``), possibly with test overrides.
        stage: the stage name, for the error.
        required: keys the stage reads beyond ``JOB_KEYS`` (e.g. ``objective``, ``init``).

    Raises:
        rge.config.MissingKeyError: (a ``KeyError``) naming ``stage`` and every key of
            ``JOB_KEYS`` + ``required`` the slice lacks; no default stands in for one.
    """
    missing = [k for k in (*JOB_KEYS, *required) if k not in cfg]
    if missing:
        raise MissingKeyError(f"{stage}: cfg lacks required key(s) {missing}; has {sorted(cfg)}")
    return {**RUNTIME, **cfg}


def work_dir_for(model_out: Path) -> Path:
    """Where a run keeps its resume state: ``<model_out>.ckpt``, a sibling of the model output."""
    return model_out.with_name(model_out.name + ".ckpt")


def load_pairs(
    paths: Path | list[Path],
    protocol: str = "mmeb",
    tables: str | Path | None = None,
) -> list[TrainPair]:
    """All records of the given ``prepare_train`` JSONL files, concatenated in the order given,
    as the model sees them under the prompt ``protocol`` (``rge.data.protocol.train_pairs``:
    ``rge_release`` rewrites queries with the release's train table and targets with its
    candidate table; both protocols put the image first, the release's training layout).

    Args:
        paths: one or more ``prepare_train`` JSONL files.
        protocol: "mmeb" | "rge_release".
        tables: the ``fetch_prompt_tables`` folder; required for ``rge_release``.

    Raises:
        ValueError: the files hold no record at all (or a record is malformed, naming its row);
            an unknown protocol, or ``rge_release`` without tables.
    """
    from rge.data.protocol import tables_for, train_pairs

    paths = paths if isinstance(paths, list) else [paths]
    pairs = [p for path in paths for p in read_train_records(path)]
    if not pairs:
        raise ValueError(f"no training records in {[str(p) for p in paths]}")
    return train_pairs(pairs, protocol, tables_for(protocol, tables))


def load_rationales(paths: Path | list[Path] | None) -> dict[str, str]:
    """``{row key: oracle rationale}`` (paper §3.2) from zero or more rationale JSONL files in
    the ``rge.rationale.store`` schema; ``{}`` when none is given.

    Raises:
        ValueError: a row is malformed or a key appears twice (``read_rationales`` names it).
    """
    from rge.rationale.store import read_rationales

    if not paths:
        return {}
    return read_rationales(paths if isinstance(paths, list) else [paths])


def build_objective(c: dict, rationales: dict[str, str]) -> Objective:
    """The run's objective (``c["objective"]``: baseline = eq. 2, rge = eq. 10, lm = L_LM-bar).

    Args:
        c: the run's settings (e.g. ``job_settings`` of a slice); the objective reads the
            keys it declares; ``generation`` as ``generation_settings`` reads it.
        rationales: ``{row key: oracle rationale}`` (may be empty when none is needed).

    Returns:
        The objective; with several processes (``WORLD_SIZE`` > 1) it gathers the candidates
        of every rank (``rge.train.losses.dist_gather``), so InfoNCE sees the global batch.

    Raises:
        ValueError: unknown objective name.
    """
    from rge.train.distributed import world
    from rge.train.losses import dist_gather

    runtime: dict[str, Any] = {"rationales": rationales, "generation": generation_settings(c)}
    if world()[1] > 1:
        runtime["gather_fn"] = dist_gather
    return make_objective(c["objective"], c, **runtime)


def generation_settings(c: dict) -> GenerationSettings:
    """The ``generation:`` block of a training job (absent = the defaults), with the dtype and
    attention implementation the job loads its model with (``c["dtype"]``,
    ``c["attn_implementation"]``: ``RUNTIME``), not the evaluation's.

    Raises:
        ValueError: an unknown key or value in the block.
    """
    block = dict(c.get("generation") or {})
    return GenerationSettings.from_dict(
        {**block, "dtype": c["dtype"], "attn_implementation": c["attn_implementation"]}
    )


def select_pairs(pairs: list[TrainPair], keys: list[str], source: Path) -> list[TrainPair]:
    """The pairs whose key is in ``keys``, in record order (the cold-start subset, §4.1).

    Raises:
        KeyError: a selected key is not among the pairs (names up to five, and ``source``).
        ValueError: the selection is empty.
    """
    wanted = set(keys)
    chosen = [p for p in pairs if p.key in wanted]
    absent = sorted(wanted - {p.key for p in chosen})
    if absent:
        raise KeyError(
            f"{source}: {len(absent)} selected key(s) are not in the training records, "
            f"e.g. {absent[:5]}"
        )
    if not chosen:
        raise ValueError(f"{source}: the selection is empty")
    return chosen


def _load_model(c: dict, model_dir: Path) -> tuple[torch.nn.Module, Any, str]:
    """The backbone and its processor from ``model_dir``, moved to the run's device."""
    from rge.model.factory import load_pretrained
    from rge.train.distributed import world

    if c["threads"]:
        torch.set_num_threads(int(c["threads"]))
    model, processor = load_pretrained(
        str(model_dir),
        dtype=c["dtype"],
        min_pixels=int(c["min_pixels"]),
        max_pixels=int(c["max_pixels"]),
        attn_implementation=c["attn_implementation"],
    )
    device = c["device"]
    if device == "auto":  # one GPU per process: the launcher's local rank picks it
        device = f"cuda:{world()[2]}" if torch.cuda.is_available() else "cpu"
    model.to(device)
    return model, processor, device


def _deepspeed_config(c: dict, settings: LoopSettings, device: str) -> dict | None:
    """The filled DeepSpeed config when the run goes through DeepSpeed, else None."""
    from rge.train import distributed

    if not distributed.wanted(c["deepspeed"]):
        return None
    return distributed.fill_config(
        distributed.load_config(c["deepspeed"]),
        batch_size=settings.batch_size,
        grad_clip=settings.grad_clip,
        on_gpu=str(device).startswith("cuda"),
    )


def train_and_save(
    c: dict,
    model_dir: Path,
    pairs: list[TrainPair],
    objective: Objective,
    *,
    model_out: Path,
    train_log: Path,
    summary_path: Path,
    stage: str,
    extra: dict | None = None,
) -> dict:
    """Load the backbone, train it (resumably) and write model, step log and summary.

    Args:
        c: the run's settings: every ``LoopSettings`` field, ``RUNTIME``'s keys, ``objective``,
            ``init``, ``deepspeed``, ``min_pixels``/``max_pixels``.
        model_dir: the backbone directory (``rge.model.factory.load_pretrained`` layout).
        pairs: the training rows.
        objective: e.g. from ``build_objective``.
        model_out: where the final weights + processor are saved (a directory); the resume
            state lives in ``work_dir_for(model_out)`` and is removed on success.
        train_log: JSONL, one row per step (step, loss, con, lm, lr, grad_norm, seconds, ...).
        summary_path: JSON summary (the loop's statistics, data and settings used).
        stage: the stage name, for the log line.
        extra: merged into the summary last.

    Returns:
        The summary dict (also written, by rank 0, to ``summary_path``).

    Raises:
        ValueError: a bad DeepSpeed config, or a batch not divisible by the world size.
        OSError: the backbone cannot be read or an output cannot be written.
    """
    import transformers

    from rge.model.factory import save_pretrained
    from rge.train import distributed

    model, processor, device = _load_model(c, model_dir)
    rank, n_ranks, _ = distributed.world()
    # the progress bar names the rule and the run ("train_run rge"): two jobs' bars side by side
    label = f"{stage} {c['run']}" if "run" in c else stage
    settings = LoopSettings(**{k: c[k] for k in _LOOP_KEYS}, desc=label)
    ds_config = _deepspeed_config(c, settings, device)
    work = work_dir_for(Path(model_out))
    stats = train(
        model, processor, pairs, objective, settings, work_dir=work,
        progress=bool(c["progress"]), deepspeed_config=ds_config,
        save=lambda m: save_pretrained(m, processor, model_out),
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
        write_text(train_log, (work / "log.jsonl").read_text())
        write_json(summary_path, summary)
    if n_ranks > 1:
        torch.distributed.barrier()  # no rank may still read the checkpoints when they go
    if rank == 0:
        shutil.rmtree(work)  # the run is complete: its resume state is no longer needed
    log.info(
        "%s: %d steps in %.1f s: final loss %.4f, final InfoNCE %s vs ln(candidates) %.3f",
        stage, stats["steps"], stats["wall_s"], stats["final_loss"], stats["final_con"],
        stats["ln_candidates"],
    )  # fmt: skip
    return summary
