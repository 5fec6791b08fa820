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

Config keys read (cfg slice, as ``rge.config.DiagnosticsView``; the schema's defaults):
    variant (str): ``consistent`` | ``wrong_target`` | ``wrong_query`` (``VARIANTS``).
    steps (int): optimizer steps.
    min_pixels, max_pixels (int): image processor resolution bounds.
    lr, alpha_lm, alpha_con, temperature: ``train:``'s (``diagnostics.lr`` wins).
    seed (int): also seeds the derangements.
    prompt_protocol (str): ``mmeb`` | ``rge_release``: the texts the model is trained on
        (``rge.data.protocol.train_pairs``; oracle rationales stay keyed by row).
    batch_size (int; the view's 16 when unset), chunk_size (int; the view's 0).
    Fixed here: ``RECIPE`` (no warm-up or weight decay, cosine, one epoch, no checkpoints),
    ``rge.train.run.RUNTIME``, and objective rge, pair q_oracle, no hard negatives, no
    DeepSpeed, init cold_start.

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

from rge.config import DiagnosticsView
from rge.stages._cli import Paths, stage_main
from rge.train.run import RUNTIME, build_objective, load_pairs, load_rationales, train_and_save

# variant name -> perturbation of rge.train.objectives.RgeObjective
VARIANTS = {"consistent": "none", "wrong_target": "wrong_target", "wrong_query": "wrong_query"}
# Figure 4's loop settings that the diagnostics do not configure.
RECIPE = {
    "epochs": 1, "weight_decay": 0.0, "warmup_steps": 0, "schedule": "cosine",
    "min_lr_ratio": 0.0, "grad_clip": 1.0, "checkpoint_every": 0,
}  # fmt: skip


def settings(view: DiagnosticsView) -> dict:
    """The ``train_run``-style settings of a variant: the recipe, the view, the fixed keys."""
    fixed = {
        "objective": "rge", "pair": "q_oracle", "use_negatives": False, "deepspeed": None,
        "init": "cold_start", "max_steps": view.steps, "perturb": VARIANTS[view.variant],
        "perturb_seed": view.seed,
    }  # fmt: skip
    given = {k: v for k, v in view.as_dict().items() if v is not None}
    return {**RUNTIME, **RECIPE, **given, **fixed}


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Train one variant; write its step log and summary (no model)."""
    view = DiagnosticsView.from_slice(cfg)
    c = settings(view)
    pairs = load_pairs(inputs.train, view.prompt_protocol, inputs.get("prompt_tables"))
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
