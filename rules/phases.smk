# Phase targets: one rule per phase whose inputs are that phase's final outputs. Each DVC
# stage in dvc.yaml runs `snakemake <phase target>` and versions the phase's data/<study>/<rule>
# folders (Snakemake executes, DVC versions; tests/workflow/test_dvc.py keeps the two in step).
# A phase target builds everything its DVC stage lists as an output, so that `dvc repro`
# never finds a declared output missing: the cold-start selection and the cold start are
# built even when no run starts from them.


rule phase_data:
    """Phase 1: benchmark fetched, validated and normalised; backbone ready."""
    input:
        mirror_input(None),
        expand(out("prepare_train/{s}.{ext}"), s=TRAIN_SUBSETS, ext=("jsonl", "report.json")),
        rules.select_cold_start.output,
        expand(out("fetch_mmeb_eval/{task}"), task=EVAL_TASKS),
        expand(out("fetch_retrieval/{bench}"), bench=BENCHES),
        rules.fetch_prompt_tables.output,
        rules.data_report.output,
        rules.pretrain_backbone.output,


rule phase_rationales:
    """Phase 2: oracle rationales written and checked."""
    input:
        expand(out("check_rationales/{s}.{ext}"), s=TRAIN_SUBSETS, ext=("jsonl", "report.json")),


rule phase_train:
    """Phase 3: the cold start and every registry run the study trains (not the eval-only ones)."""
    input:
        rules.cold_start.output,
        expand(
            out("train_run/{run}/{name}"),
            run=rge_config.trained_runs(config),
            name=("model", "train_log.jsonl", "summary.json"),
        ),


rule phase_diagnostics:
    """Phase 4: the diagnostics behind Figure 4 (all_diagnostics())."""
    input:
        all_diagnostics(),


rule phase_evaluate:
    """Phase 5: every run (trained or eval-only) scored on MMEB in each of its modes; the
    retrieval scores."""
    input:
        run_mode_scores(rge_config.active_runs(config)),
        pooled_scores(),
        all_retrieval_scores(),
        rationale_probe_targets(),


rule phase_report:
    """Phase 6: every paper table and figure, and the study's HTML report."""
    input:
        all_tables(),
        all_figures(),
        all_metrics(),
        rules.report.output.report,
        claims_targets(),


rule phases:
    """Every phase: what `dvc repro` builds. After `dvc pull`, `snakemake --touch phases`
    gives the pulled files an order of mtimes that Snakemake accepts as up to date."""
    input:
        rules.phase_data.input,
        rules.phase_rationales.input,
        rules.phase_train.input,
        rules.phase_diagnostics.input,
        rules.phase_evaluate.input,
        rules.phase_report.input,
