# Phase 3 — train: one job per entry of the experiment registry (`runs:` in the config).


rule cold_start:
    """LM-only cold start on the selected subset: teaches "rationale ... <emb>" (paper §3.3)."""
    input:
        model=out("pretrain_backbone/model"),
        records=cold_start_records,
        rationales=cold_start_rationales,
        selection=out("select_cold_start/selection.json"),
        prompt_tables=prompt_tables,
    output:
        model=directory(out("cold_start/model")),
        train_log=out("cold_start/train_log.jsonl"),
        summary=out("cold_start/summary.json"),
    threads: threads_for("cold_start")
    resources:
        **resources_for("cold_start"),
    params:
        **stage_params("cold_start", LAUNCH),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("cold_start"),
    benchmark:
        out("benchmarks/cold_start.tsv")
    shell:
        STAGE


rule train_run:
    """Train one registry run (a replicate `<run>@<seed>` too) from the backbone or the cold
    start, on its subsets whole or their cold-start rows; resumable checkpoints, per-step log."""
    input:
        model=run_init_model,
        train=train_inputs,
        selection=run_selection,
        rationales=run_rationales,
        prompt_tables=prompt_tables,
    output:
        model=directory(out("train_run/{run}/model")),
        train_log=out("train_run/{run}/train_log.jsonl"),
        summary=out("train_run/{run}/summary.json"),
    threads: threads_for("train_run")
    resources:
        **resources_for("train_run"),
    params:
        **stage_params("train_run", LAUNCH),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("train_run", "{run}"),
    benchmark:
        out("benchmarks/train_run/{run}.tsv")
    shell:
        STAGE
