"""LM-only cold start (paper §4.1): teach the output format before any embedding training.

Trains the backbone with the ``lm`` objective on the rows picked by ``select_cold_start``:
queries learn to answer "oracle rationale ... ``<emb>``", targets to answer ``<emb>`` at once
(L_LM-bar, the token-weighted mean over both sides; no contrastive loss). Its model initialises
the RGE runs (``init: cold_start`` runs get this stage's ``model`` output as their ``model``
input). Same loop, resume and outputs as ``train_run``; resume state in ``<model>.ckpt/``.

Config keys read (cfg slice: the ``cold_start`` section merged over the training defaults):
    batch_size (int, 16), max_steps (int, 0), epochs (int, 1), lr (float, 1e-4),
        weight_decay (float, 0.0), warmup_steps (int, 0), schedule (str, ``cosine``),
        min_lr_ratio (float, 0.0), grad_clip (float, 1.0), seed (int, 0),
        checkpoint_every (int, 0), keep_checkpoints (int, 1), final_window (int, 20):
        as in ``train_run``.
    chunk_size (int, 0): > 0: accumulate gradients over chunks of this many pairs.
    min_pixels, max_pixels (int, required): image processor resolution bounds.
    dtype (str, ``float32``), attn_implementation (str, ``sdpa``), threads (int, 0),
        device (str, ``auto``), progress (bool, true), deepspeed (str or null, null):
        as in ``train_run``.
    Any ``objective`` key is ignored: this stage always trains ``lm``.
    prompt_protocol (str, ``mmeb``): ``mmeb`` | ``rge_release``: the texts the model is
        trained on (``rge.data.protocol.train_pairs``; oracle rationales stay keyed by row).

Inputs:
    model: backbone directory (``load_pretrained`` format).
    records: one or more ``prepare_train`` JSONL files (repeat the name).
    rationales: one or more oracle rationale JSONL files (repeat the name); every selected
        row needs one.
    selection: the ``select_cold_start`` JSON (its ``keys`` list picks the rows).
    prompt_tables (optional): the ``fetch_prompt_tables`` folder; required by ``rge_release``.
Outputs:
    model: directory with the cold-started weights + processor.
    train_log: JSONL, one row per step (step, loss, lm, lr, grad_norm, seconds, subset).
    summary: JSON as ``train_run``'s, plus ``selected`` (rows trained on).
"""

from __future__ import annotations

from pathlib import Path

from rge.io import read_json
from rge.stages._cli import Paths, stage_main
from rge.train.objectives import make_objective
from rge.train.run import (
    DEFAULTS,
    load_pairs,
    load_rationales,
    require_pixels,
    select_pairs,
    train_and_save,
)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Select the rows, train the LM-only objective, write model, step log and summary."""
    require_pixels(cfg, "cold_start")
    c = {**DEFAULTS, **cfg, "objective": "lm"}
    selection = read_json(inputs.selection)
    if "keys" not in selection:
        raise KeyError(f"{inputs.selection}: selection JSON has no 'keys' list")
    records = load_pairs(inputs.records, c["prompt_protocol"], inputs.get("prompt_tables"))
    pairs = select_pairs(records, selection["keys"], Path(inputs.selection))
    objective = make_objective("lm", c, rationales=load_rationales(inputs.rationales))
    objective.check_rationales(pairs)
    return train_and_save(
        c, inputs.model, pairs, objective, model_out=outputs.model,
        train_log=outputs.train_log, summary_path=outputs.summary, stage="cold_start",
        extra={"selected": len(pairs)},
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
