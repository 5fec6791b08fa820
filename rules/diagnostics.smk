# Phase 4 — diagnostics: the perturbed-triplet runs of the paper's Figure 4, logging the LM and
# contrastive loss per step for (q, r_o, t) and the wrong-target / wrong-query triplets.


rule leakage_curves:
    """One Figure-4 variant: q_oracle training on consistent or perturbed triplets (no weights kept)."""
    input:
        model="data/cold_start/model",
        train=diagnostics_records,
        rationales=diagnostics_rationales,
    output:
        train_log="data/leakage_curves/{variant}/train_log.jsonl",
        summary="data/leakage_curves/{variant}/summary.json",
    threads: rule_threads("leakage_curves")
    resources:
        **rule_resources("leakage_curves"),
    params:
        cfg=cfg_leakage_curves,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/leakage_curves/{variant}.log",
    benchmark:
        "data/benchmarks/leakage_curves/{variant}.tsv"
    shell:
        "python -m rge.stages.leakage_curves --cfg {params.cfg:q} {params.io} --log {log:q}"
