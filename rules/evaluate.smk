# Phase 5 — evaluate: MMEB Precision@1 per task and mode, aggregated per run; Flickr/COCO R@K.


rule fetch_checkpoint:
    """An eval-only run's hub checkpoint at its revision: the resolved commit recorded, a
    tokenizer without <emb> refused unless the entry adds it (rge.model.eval_only)."""
    output:
        model=directory(out("fetch_checkpoint/{run}/model")),
        source=out("fetch_checkpoint/{run}/source.json"),
    threads: threads_for("fetch_checkpoint")
    resources:
        **resources_for("fetch_checkpoint"),
    params:
        **stage_params("fetch_checkpoint"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("fetch_checkpoint", "{run}"),
    shell:
        STAGE


rule embed_eval:
    """One run x embedding mode: Precision@1 and per-query predictions on every MMEB task."""
    input:
        model=run_model,
        data=eval_task_dirs,
        prompt_tables=prompt_tables,
    output:
        out=directory(out("embed_eval/{run}/{mode}")),
    threads: threads_for("embed_eval")
    resources:
        **resources_for("embed_eval"),
    group:
        "evaluate"
    params:
        **stage_params("embed_eval"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("embed_eval", "{run}/{mode}"),
    shell:
        STAGE


rule score_mmeb:
    """One run x mode: per-meta-task, IND/OOD and overall scores (paper Table 2 columns)."""
    input:
        scores=task_scores,
    output:
        summary=out("score_mmeb/{run}/{mode}.json"),
    threads: threads_for("score_mmeb")
    resources:
        **resources_for("score_mmeb"),
    group:
        "evaluate"
    params:
        **stage_params("score_mmeb"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("score_mmeb", "{run}/{mode}"),
    shell:
        STAGE


rule pool_seeds:
    """A seeded base run x mode: mean and sample sd over its replicates of every score_mmeb
    number, with each replicate's training InfoNCE (tables print mean ± sd, n seeds)."""
    input:
        summary=replicate_scores,
        train_summary=replicate_train_summaries,
    output:
        pooled=out("pool_seeds/{run}/{mode}.json"),
    wildcard_constraints:
        run="|".join(map(re.escape, rge_config.pooled_runs(config))) or "(?!)",
    threads: threads_for("pool_seeds")
    resources:
        **resources_for("pool_seeds"),
    params:
        **stage_params("pool_seeds", FROM_SRC),
    conda:
        "../workflow/envs/report.yaml"
    log:
        log_for("pool_seeds", "{run}/{mode}"),
    shell:
        STAGE


rule score_retrieval:
    """One run x bench x (query mode, target mode): R@1/5/10 in both directions."""
    input:
        model=run_model,
        data=out("fetch_retrieval/{bench}"),
    output:
        score=out("score_retrieval/{run}/{bench}/{qmode}-{tmode}.json"),
        rationales=out("score_retrieval/{run}/{bench}/{qmode}-{tmode}.rationales.jsonl"),
    threads: threads_for("score_retrieval")
    resources:
        **resources_for("score_retrieval"),
    group:
        "evaluate"
    params:
        **stage_params("score_retrieval"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("score_retrieval", "{run}/{bench}/{qmode}-{tmode}"),
    shell:
        STAGE


rule eval_only:
    """Target: every eval-only run of the registry scored on MMEB (each of its modes) and on
    Flickr/COCO (query and target in the same mode). README "Evaluate any checkpoint"."""
    input:
        mmeb=run_mode_scores(rge_config.eval_only_runs(config)),
        retrieval=eval_only_retrieval_scores(),


rule rationale_probe:
    """One reasoning-mode evaluation's rationales scored against the scene sidecars: per task
    description / answer correctness and P@1 split by right / wrong rationale."""
    input:
        unpack(rationale_probe_inputs),
    output:
        probe=out("rationale_probe/{run}/{mode}.json"),
    threads: threads_for("rationale_probe")
    resources:
        **resources_for("rationale_probe"),
    params:
        **stage_params("rationale_probe", FROM_SRC),
    conda:
        "../workflow/envs/report.yaml"
    log:
        log_for("rationale_probe", "{run}/{mode}"),
    shell:
        STAGE
