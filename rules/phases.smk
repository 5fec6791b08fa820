# Phase targets: one rule per phase whose inputs are that phase's final outputs. Each DVC
# stage in dvc.yaml runs `snakemake <phase target>` and versions the phase's data/<rule>
# folders (Snakemake executes, DVC versions; tests/workflow/test_dvc.py keeps the two in step).
# A phase target builds everything its DVC stage lists as an output, so that `dvc repro`
# never finds a declared output missing.


def phase_data_targets():
    """The benchmark fetched and prepared, the cold-start selection, and the backbone."""
    return [
        *mirror_input(None),
        *[f"data/prepare_train/{s}.{e}" for s in TRAIN_SUBSETS for e in ("jsonl", "report.json")],
        "data/select_cold_start/selection.json",
        *[f"data/fetch_mmeb_eval/{t}" for t in EVAL_TASKS],
        *[f"data/fetch_retrieval/{b}" for b in BENCHES],
        "data/pretrain_backbone/model",
        "data/pretrain_backbone/probe.json",
    ]


def phase_rationales_targets():
    """The checked oracle rationales (and their reports) of every training subset."""
    return [
        f"data/check_rationales/{s}.{e}" for s in TRAIN_SUBSETS for e in ("jsonl", "report.json")
    ]


def phase_train_targets():
    """The cold start (its DVC output always exists) and every run of the registry."""
    names = ("model", "train_log.jsonl", "summary.json")
    cold = [f"data/cold_start/{name}" for name in names]
    return cold + [f"data/train_run/{r}/{name}" for r in RUNS for name in names]


def phase_evaluate_targets():
    """MMEB summaries of every run in each of its modes, and every retrieval score."""
    mmeb = [f"data/score_mmeb/{r}/{m}.json" for r in RUNS for m in run_modes(r)]
    return mmeb + all_retrieval_scores()


rule phase_data:
    """Phase 1: benchmark fetched, validated and normalised; backbone ready."""
    input:
        phase_data_targets(),


rule phase_rationales:
    """Phase 2: oracle rationales written and checked."""
    input:
        phase_rationales_targets(),


rule phase_train:
    """Phase 3: cold start and every registry run trained."""
    input:
        phase_train_targets(),


rule phase_diagnostics:
    """Phase 4: diagnostics (Figure 4's training curves), as listed by all_diagnostics()."""
    input:
        all_diagnostics(),


rule phase_evaluate:
    """Phase 5: every run scored on MMEB and the retrieval sets."""
    input:
        phase_evaluate_targets(),


rule phase_report:
    """Phase 6: every paper table."""
    input:
        all_tables(),
