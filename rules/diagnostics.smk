# Phase 4 — diagnostics: the perturbed-triplet runs of the paper's Figure 4, logging the LM and
# contrastive loss per step for (q, r_o, t) and the wrong-target / wrong-query triplets.


rule leakage_curves:
    """One Figure-4 variant: q_oracle training on consistent or perturbed triplets (no weights kept)."""
    input:
        model=out("cold_start/model"),
        train=diagnostics_records,
        rationales=diagnostics_rationales,
        prompt_tables=prompt_tables,
    output:
        train_log=out("leakage_curves/{variant}/train_log.jsonl"),
        summary=out("leakage_curves/{variant}/summary.json"),
    threads: threads_for("leakage_curves")
    resources:
        **resources_for("leakage_curves"),
    params:
        **stage_params("leakage_curves", LAUNCH),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("leakage_curves", "{variant}"),
    benchmark:
        out("benchmarks/leakage_curves/{variant}.tsv")
    shell:
        STAGE
