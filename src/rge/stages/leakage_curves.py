"""Paper Fig. 4 diagnostics: train on (perturbed) triplets with the leaky pair, log both losses.

One job per variant. Starting from the cold-start model, trains the ``rge`` objective with pair
``q_oracle`` (the query embedding is the ``<emb>`` state of the LM forward over the oracle
rationale, paper §3.5) on triplets (q, r_o, t) as they are (``consistent``), with every target
replaced by another row's of the batch (``wrong_target``: (q, r_o, t_w)) or with every query
replaced (``wrong_query``: (q_w, r_o, t)); ``rge.train.objectives.perturb_pairs`` draws the
replacements (a seeded derangement per batch, the rationale stays the row's own). The step log
holds the LM and contrastive loss of every step. Hard negatives are never used, so an InfoNCE
that learned nothing sits at ln(batch_size). The trained weights are not an output: they go to
a scratch folder next to the step log (resumable like ``train_run``) that is removed at the end.

Config keys read (cfg slice):
    variant (str, required): ``consistent`` | ``wrong_target`` | ``wrong_query`` (``VARIANTS``).
    steps (int, required): optimizer steps.
    min_pixels, max_pixels (int, required): image processor resolution bounds.
    batch_size (int, 16), lr (float, 1e-4), alpha_lm (float, 1.0), alpha_con (float, 10.0),
        temperature (float, 0.03), seed (int, 0; also seeds the derangements).
    Optional, as in ``train_run``: warmup_steps, schedule, min_lr_ratio, weight_decay,
        grad_clip, chunk_size, checkpoint_every, final_window, dtype, attn_implementation,
        threads, device, progress. Other keys are ignored; ``objective``, ``pair``,
        ``use_negatives`` and ``deepspeed`` are fixed here (rge, q_oracle, false, null).
    prompt_protocol (str, ``mmeb``): ``mmeb`` | ``rge_release``: the texts the model is
        trained on (``rge.data.protocol.train_pairs``; oracle rationales stay keyed by row).

Inputs:
    model: the cold-start model directory (``cold_start`` output).
    train: prepared records JSONL files (``prepare_train`` output; repeat the name).
    rationales: oracle rationale JSONL files covering every training row (repeat the name).
    prompt_tables (optional): the ``fetch_prompt_tables`` folder; required by ``rge_release``.
Outputs:
    train_log: JSONL, one row per step: step, loss, lm, con, lr, grad_norm, seconds, subset,
        candidates (the ``train_run`` step log).
    summary: JSON: the ``train_run`` summary (steps, final-window loss and InfoNCE, ln_batch,
        ln_candidates, settings, ...) plus variant, perturb and pair.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from rge.stages._cli import Paths, stage_main
from rge.train.run import DEFAULTS, build_objective, load_pairs, load_rationales, train_and_save

# variant name -> perturbation of rge.train.objectives.RgeObjective
VARIANTS = {"consistent": "none", "wrong_target": "wrong_target", "wrong_query": "wrong_query"}
REQUIRED = ("variant", "steps", "min_pixels", "max_pixels")


def settings(cfg: dict) -> dict:
    """The ``train_run``-style config of a variant (defaults, then cfg, then the fixed keys)."""
    missing = [k for k in REQUIRED if k not in cfg]
    if missing:
        raise KeyError(f"leakage_curves: cfg lacks required key(s) {missing}")
    if cfg["variant"] not in VARIANTS:
        raise ValueError(
            f"leakage_curves: unknown variant {cfg['variant']!r}; use one of {list(VARIANTS)}"
        )
    fixed = {
        "objective": "rge", "pair": "q_oracle", "use_negatives": False, "deepspeed": None,
        "init": "cold_start", "max_steps": int(cfg["steps"]), "perturb": VARIANTS[cfg["variant"]],
        "perturb_seed": int(cfg.get("seed", DEFAULTS["seed"])),
    }  # fmt: skip
    return {**DEFAULTS, **cfg, **fixed}


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Train one variant; write its step log and summary (no model)."""
    c = settings(cfg)
    pairs = load_pairs(inputs.train, c["prompt_protocol"], inputs.get("prompt_tables"))
    objective = build_objective(c, load_rationales(inputs.rationales))
    objective.check_rationales(pairs)
    log_path = Path(outputs.train_log)
    scratch = log_path.with_name(log_path.name + ".weights")
    summary = train_and_save(
        c, inputs.model, pairs, objective, model_out=scratch, train_log=log_path,
        summary_path=Path(outputs.summary), stage=f"leakage_curves/{c['variant']}",
        extra={"variant": c["variant"], "perturb": c["perturb"], "pair": c["pair"]},
    )  # fmt: skip
    shutil.rmtree(scratch)  # the weights are not an output of the diagnostics
    return summary


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
