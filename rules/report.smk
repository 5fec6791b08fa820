# Phase 6 — report: one rule per paper table, each writing md + csv + tex with the paper's
# numbers beside ours. The row tables (1, 3, 4, 6) and Table 7 are `table1` reused: they read
# the run scores, the runs' training summaries, the probe and the paper's CSV.


rule table1:
    """Paper Table 1: leakage at small scale (q->t, (q;r_oracle)->t, (q;r_self)->t)."""
    input:
        **table_inputs("table1"),
        evaluation=table_evaluations("table1"),
    output:
        **table_outputs("table1"),
    threads: threads_for("table1")
    resources:
        **resources_for("table1"),
    params:
        **stage_params("table1", FROM_SRC),
    conda:
        "../workflow/envs/report.yaml"
    log:
        log_for("table1"),
    shell:
        STAGE


use rule table1 as table3 with:
    input:
        **table_inputs("table3"),
        rationale_probe=table_rationale_probes("table3"),
    output:
        **table_outputs("table3"),
    threads: threads_for("table3")
    resources:
        **resources_for("table3"),
    params:
        **stage_params("table3", FROM_SRC),
    log:
        log_for("table3"),


use rule table1 as table4 with:
    input:
        **table_inputs("table4"),
        rationale_probe=table_rationale_probes("table4"),
    output:
        **table_outputs("table4"),
    threads: threads_for("table4")
    resources:
        **resources_for("table4"),
    params:
        **stage_params("table4", FROM_SRC),
    log:
        log_for("table4"),


use rule table1 as table6 with:
    input:
        **table_inputs("table6"),
        rationale_probe=table_rationale_probes("table6"),
    output:
        **table_outputs("table6"),
    threads: threads_for("table6")
    resources:
        **resources_for("table6"),
    params:
        **stage_params("table6", FROM_SRC),
    log:
        log_for("table6"),


use rule table1 as table7 with:
    input:
        **table_inputs("table7"),
    output:
        **table_outputs("table7"),
    threads: threads_for("table7")
    resources:
        **resources_for("table7"),
    params:
        **stage_params("table7", FROM_SRC),
    log:
        log_for("table7"),


use rule table1 as table2 with:
    input:
        **table_inputs("table2"),
    output:
        **table_outputs("table2"),
    threads: threads_for("table2")
    resources:
        **resources_for("table2"),
    params:
        **stage_params("table2", FROM_SRC),
    log:
        log_for("table2"),


use rule table1 as table15 with:
    input:
        **table_inputs("table15"),
    output:
        **table_outputs("table15"),
    threads: threads_for("table15")
    resources:
        **resources_for("table15"),
    params:
        **stage_params("table15", FROM_SRC),
    log:
        log_for("table15"),


rule figure4:
    """Paper Figure 4: LM and contrastive loss per step of the consistent and perturbed triplets."""
    input:
        train_log=leakage_files("train_log.jsonl"),
        summary=leakage_files("summary.json"),
    output:
        **{ext: out(f"figure4/figure4_leakage.{ext}") for ext in ("png", "csv", "md")},
    threads: threads_for("figure4")
    resources:
        **resources_for("figure4"),
    params:
        **stage_params("figure4", FROM_SRC),
    conda:
        "../workflow/envs/report.yaml"
    log:
        log_for("figure4"),
    shell:
        STAGE


rule report:
    """The study in one self-contained HTML page: tables, Figure 4, curves, examples."""
    input:
        table=report_tables,
        figure4=report_figures,
        train_log=report_train_files("train_log.jsonl"),
        summary=report_train_files("summary.json"),
        probe=out("pretrain_backbone/probe.json"),
        embed_eval=report_evaluations,
        eval_task=eval_task_dirs_all,
        claims=report_claims,
        rationale_probe=rationale_probe_targets(),
    output:
        report=out("report/report.html"),
    threads: threads_for("report")
    resources:
        **resources_for("report"),
    params:
        **stage_params("report", FROM_SRC),
    conda:
        "../workflow/envs/report.yaml"
    log:
        log_for("report"),
    shell:
        STAGE


rule metrics:
    """DVC's metrics: one run x mode's headline scores in % (overall, IND, OOD, meta-tasks)."""
    input:
        summary=out("score_mmeb/{run}/{mode}.json"),
    output:
        metrics=out("metrics/{run}/{mode}.json"),
    threads: threads_for("metrics")
    resources:
        **resources_for("metrics"),
    params:
        **stage_params("metrics", FROM_SRC),
    conda:
        "../workflow/envs/report.yaml"
    log:
        log_for("metrics", "{run}/{mode}"),
    shell:
        STAGE


rule claims:
    """The claims of the config judged on the study's evidence: paired differences with their
    hierarchical-bootstrap intervals, the minimum detectable effect, one verdict per claim."""
    input:
        unpack(claims_inputs),
    output:
        **{ext: out(f"claims/claims.{ext}") for ext in ("md", "csv", "json")},
    threads: threads_for("claims")
    resources:
        **resources_for("claims"),
    params:
        **stage_params("claims", FROM_SRC),
    conda:
        "../workflow/envs/report.yaml"
    log:
        log_for("claims"),
    shell:
        STAGE
