# Phase 5 — evaluate: MMEB Precision@1 per task and mode, aggregated per run; Flickr/COCO R@K.


rule embed_eval:
    """One run x embedding mode: Precision@1 and per-query predictions on every MMEB task."""
    input:
        model="data/train_run/{run}/model",
        data=eval_task_dirs,
    output:
        out=directory("data/embed_eval/{run}/{mode}"),
    threads: rule_threads("embed_eval")
    resources:
        **rule_resources("embed_eval"),
    group:
        "evaluate"
    params:
        cfg=cfg_embed_eval,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/embed_eval/{run}/{mode}.log",
    shell:
        "python -m rge.stages.embed_eval --cfg {params.cfg:q} {params.io} --log {log:q}"


rule score_mmeb:
    """One run x mode: per-meta-task, IND/OOD and overall scores (paper Table 2 columns)."""
    input:
        scores=task_scores,
    output:
        summary="data/score_mmeb/{run}/{mode}.json",
    threads: rule_threads("score_mmeb")
    resources:
        **rule_resources("score_mmeb"),
    group:
        "evaluate"
    params:
        cfg=cfg_score_mmeb,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/score_mmeb/{run}/{mode}.log",
    shell:
        "python -m rge.stages.score_mmeb --cfg {params.cfg:q} {params.io} --log {log:q}"


rule score_retrieval:
    """One run x bench x (query mode, target mode): R@1/5/10 in both directions."""
    input:
        model="data/train_run/{run}/model",
        data="data/fetch_retrieval/{bench}",
    output:
        score="data/score_retrieval/{run}/{bench}/{qmode}-{tmode}.json",
        rationales="data/score_retrieval/{run}/{bench}/{qmode}-{tmode}.rationales.jsonl",
    threads: rule_threads("score_retrieval")
    resources:
        **rule_resources("score_retrieval"),
    group:
        "evaluate"
    params:
        cfg=cfg_score_retrieval,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/score_retrieval/{run}/{bench}/{qmode}-{tmode}.log",
    shell:
        "python -m rge.stages.score_retrieval --cfg {params.cfg:q} {params.io} --log {log:q}"
