# Phase 3 — train: one job per entry of the experiment registry (`runs:` in the config).


rule cold_start:
    """LM-only cold start on the selected subset: teaches "rationale ... <emb>" (paper §3.3)."""
    input:
        model="data/pretrain_backbone/model",
        records=cold_start_records,
        rationales=cold_start_rationales,
        selection="data/select_cold_start/selection.json",
    output:
        model=directory("data/cold_start/model"),
        train_log="data/cold_start/train_log.jsonl",
        summary="data/cold_start/summary.json",
    threads: rule_threads("cold_start")
    resources:
        **rule_resources("cold_start"),
    params:
        cfg=cfg_cold_start,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/cold_start.log",
    benchmark:
        "data/benchmarks/cold_start.tsv"
    shell:
        "python -m rge.launch -- python -m rge.stages.cold_start --cfg {params.cfg:q} {params.io} --log {log:q}"


rule train_run:
    """Train one registry run from the backbone; resumable checkpoints, per-step log."""
    input:
        model=run_init_model,
        train=train_inputs,
        rationales=run_rationales,
    output:
        model=directory("data/train_run/{run}/model"),
        train_log="data/train_run/{run}/train_log.jsonl",
        summary="data/train_run/{run}/summary.json",
    threads: rule_threads("train_run")
    resources:
        **rule_resources("train_run"),
    params:
        cfg=cfg_train_run,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/train_run/{run}.log",
    benchmark:
        "data/benchmarks/train_run/{run}.tsv"
    shell:
        "python -m rge.launch -- python -m rge.stages.train_run --cfg {params.cfg:q} {params.io} --log {log:q}"
