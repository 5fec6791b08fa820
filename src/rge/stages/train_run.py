"""Train one run of the experiment registry (paper §3.4: ``baseline`` = eq. 2, ``rge`` = eq. 10).

Reads the backbone and the prepared training records, trains (``rge.train.run``) and writes the
final model. Resume state lives in ``<output model>.ckpt/`` (checkpoints + the running step
log), outside the declared outputs; a rerun after a kill continues from the newest checkpoint.

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
    prompt_protocol (str, ``mmeb``): ``mmeb`` | ``rge_release``: the texts the model is
        trained on (``rge.data.protocol.train_pairs``; oracle rationales stay keyed by row).

Inputs:
    model: backbone directory (``load_pretrained`` format).
    train: one or more prepared records JSONL files (``prepare_train`` output), concatenated.
    rationales (optional, repeatable): oracle rationale JSONL files (``rge.rationale.store``
        schema); required by ``rge`` with alpha_lm > 0 or pair ``q_oracle``, and by ``lm``:
        every training row must have one (a missing key raises, naming it).
    prompt_tables (optional): the ``fetch_prompt_tables`` folder; required by ``rge_release``.
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

from rge.stages._cli import Paths, stage_main
from rge.train.run import (
    DEFAULTS,
    build_objective,
    load_pairs,
    load_rationales,
    require_pixels,
    train_and_save,
)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Train the run and write model, step log and summary; return the summary."""
    require_pixels(cfg, "train_run")
    c = {**DEFAULTS, **cfg}
    pairs = load_pairs(inputs.train, c["prompt_protocol"], inputs.get("prompt_tables"))
    objective = build_objective(c, load_rationales(inputs.get("rationales")))
    if hasattr(objective, "check_rationales"):
        objective.check_rationales(pairs)  # fail now, not at the step that meets the gap
    return train_and_save(
        c, inputs.model, pairs, objective, model_out=outputs.model,
        train_log=outputs.train_log, summary_path=outputs.summary, stage="train_run",
    )  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
