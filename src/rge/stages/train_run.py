"""Train one run of the experiment registry (paper §3.4: ``baseline`` = eq. 2, ``rge`` = eq. 10).

Reads the backbone and the prepared training records, trains (``rge.train.run``) and writes the
final model. Resume state lives in ``<output model>.ckpt/`` (checkpoints + the running step
log), outside the declared outputs; a rerun after a kill continues from the newest checkpoint.

Config keys read (cfg slice: ``rge.config.slice_for``, the run's registry entry over ``train:``
with the schema's defaults filled in; workflow/schemas/config.schema.yaml is the one source of
their defaults and a key missing from the slice raises ``rge.config.MissingKeyError`` naming it):
    objective (str): ``baseline`` | ``rge`` | ``lm`` (``OBJECTIVES``); the objective reads its
        own keys from this slice, keys it does not declare are ignored:
        baseline: temperature, use_negatives, chunk_size.
        rge: the same plus pair (``q_self`` | ``q`` | ``q_oracle``), alpha_lm, alpha_con
            (normalised to sum to 1), max_new_tokens (self-rationale cap).
        lm: chunk_size.
    chunk_size (int): > 0 turns on the gradient cache with chunks of this many pairs (the
        contrastive batch stays ``batch_size``; memory is one chunk's).
    init (str): ``backbone`` | ``cold_start``; wiring only (which model the rule passes as
        ``model``), recorded in the summary.
    deepspeed (str or null): path of a DeepSpeed JSON config (workflow/deepspeed/
        zero2.json | zero3.json): train through a DeepSpeed engine. Also used (with a ZeRO-2
        default) when launched on several processes (WORLD_SIZE > 1); ``batch_size`` is then
        the global batch, split over the ranks, candidates gathered across them.
    batch_size (int): pairs per step, all from one subset.
    max_steps (int): steps to train; 0 = ``epochs`` passes over the data.
    epochs (int): used when max_steps is 0.
    lr (float), weight_decay (float): AdamW peak lr and decay (matrices only).
    warmup_steps (int), schedule (str, ``cosine`` | ``linear`` | ``constant``),
        min_lr_ratio (float): linear warm-up, then decay to min_lr_ratio x lr.
    grad_clip (float): max global gradient norm (0 = off).
    seed (int): batch order, dropout and every other random draw.
    checkpoint_every (int): steps between resume checkpoints (0 = only at the end).
    min_pixels, max_pixels (int): image processor resolution bounds.
    prompt_protocol (str): ``mmeb`` | ``rge_release``: the texts the model is trained on
        (``rge.data.protocol.train_pairs``; oracle rationales stay keyed by row).
    generation (mapping): how ``q_self`` rationales are generated (``generation_settings``).
    No config sets the job's runtime keys (``rge.train.run.RUNTIME``, which a slice may
    override): keep_checkpoints (1), final_window (20: steps averaged for the summary's final
    losses), dtype (``float32``) and attn_implementation (``sdpa``): how the backbone is loaded,
    threads (0 = torch's default), device (``auto``: ``cuda`` when available else ``cpu``, or a
    torch device name), progress (true: tqdm progress bar on stderr).

Inputs:
    model: backbone directory (``load_pretrained`` format).
    train: one or more prepared records JSONL files (``prepare_train`` output), concatenated.
    selection (optional): the ``select_cold_start`` JSON; given (run key ``data: cold_start``),
        only its rows of the ``train`` subsets are trained on (the paper's ablations stay
        within the cold-start subset); every selected key of those subsets must be there.
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

from pathlib import Path

from rge.io import read_json
from rge.stages._cli import Paths, as_list, stage_main
from rge.train.run import (
    build_objective,
    job_settings,
    load_pairs,
    load_rationales,
    select_pairs,
    train_and_save,
)


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Train the run and write model, step log and summary; return the summary."""
    c = job_settings(cfg, "train_run", required=("objective", "init"))
    pairs = load_pairs(inputs.train, c["prompt_protocol"], inputs.get("prompt_tables"))
    if as_list(inputs.get("selection") or []):
        pairs = cold_start_rows(pairs, Path(as_list(inputs.selection)[0]))
    objective = build_objective(c, load_rationales(inputs.get("rationales")))
    if hasattr(objective, "check_rationales"):
        objective.check_rationales(pairs)  # fail now, not at the step that meets the gap
    return train_and_save(
        c, inputs.model, pairs, objective, model_out=outputs.model,
        train_log=outputs.train_log, summary_path=outputs.summary, stage="train_run",
    )  # fmt: skip


def cold_start_rows(pairs: list, selection: Path) -> list:
    """The pairs the cold-start selection picked, among the subsets the run trains on (a key
    is ``<subset>/<row>``; the selection spans every study subset).

    Raises:
        KeyError: the file has no ``keys`` list, or a selected key of these subsets is absent.
        ValueError: nothing of these subsets was selected.
    """
    keys = read_json(selection).get("keys")
    if keys is None:
        raise KeyError(f"{selection}: selection JSON has no 'keys' list")
    subsets = {p.subset for p in pairs}
    return select_pairs(pairs, [k for k in keys if k.split("/", 1)[0] in subsets], selection)


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
