"""LM-only cold start (paper §4.1): teach the output format before any embedding training.

Trains the backbone with the ``lm`` objective on the rows picked by ``select_cold_start``:
queries learn to answer "oracle rationale ... ``<emb>``", targets to answer ``<emb>`` at once
(L_LM-bar, the token-weighted mean over both sides; no contrastive loss). Its model initialises
the RGE runs (``init: cold_start`` runs get this stage's ``model`` output as their ``model``
input). Same loop, resume and outputs as ``train_run``; resume state in ``<model>.ckpt/``.

Config keys read (cfg slice: ``rge.config.slice_for``, the loop keys of ``train:`` under the
``cold_start:`` overrides, schema defaults filled in; a missing key raises
``rge.config.MissingKeyError`` naming it):
    batch_size, max_steps, epochs, lr, weight_decay, warmup_steps, schedule, min_lr_ratio,
        grad_clip, seed, checkpoint_every, deepspeed, min_pixels, max_pixels, prompt_protocol:
        as in ``train_run``.
    chunk_size (int): > 0: accumulate gradients over chunks of this many pairs.
    The runtime keys (``rge.train.run.RUNTIME``) as in ``train_run``.
    Any ``objective`` or ``init`` key is ignored: this stage always trains ``lm`` from the
    backbone.

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
    job_settings,
    load_pairs,
    load_rationales,
    select_pairs,
    train_and_save,
)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Select the rows, train the LM-only objective, write model, step log and summary."""
    # always the LM-only objective, always from the backbone (``init`` as the summary records it)
    c = {**job_settings(cfg, "cold_start"), "objective": "lm", "init": "backbone"}
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
