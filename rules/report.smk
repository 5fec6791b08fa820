# Phase 6 — report: one rule per paper table, each writing md + csv + tex with the paper's
# numbers beside ours.


rule table2:
    """Paper Table 2 layout: meta-task, IND/OOD and overall scores per run."""
    input:
        summary=table2_inputs,
        paper=repo_file("config/paper_numbers/table02_mmeb_main.csv"),
        paper_tasks=repo_file("config/paper_numbers/table15_mmeb_per_dataset.csv"),
    output:
        md="data/table2/table2_mmeb_main.md",
        csv="data/table2/table2_mmeb_main.csv",
        tex="data/table2/table2_mmeb_main.tex",
    threads: rule_threads("table2")
    resources:
        **rule_resources("table2"),
    params:
        cfg=cfg_table2,
        io=stage_io,
    conda:
        "../environment.yml"
    log:
        "data/logs/table2.log",
    shell:
        "python -m rge.stages.table2 --cfg {params.cfg:q} {params.io} --log {log:q}"


rule table15:
    """Paper Table 15 layout: per-task scores per run."""
    input:
        summary=table15_inputs,
        paper_tasks=repo_file("config/paper_numbers/table15_mmeb_per_dataset.csv"),
        paper_summary=repo_file("config/paper_numbers/table15_mmeb_summary.csv"),
    output:
        md="data/table15/table15_mmeb_per_dataset.md",
        csv="data/table15/table15_mmeb_per_dataset.csv",
        tex="data/table15/table15_mmeb_per_dataset.tex",
    threads: rule_threads("table15")
    resources:
        **rule_resources("table15"),
    params:
        cfg=cfg_table15,
        io=stage_io,
    conda:
        "../environment.yml"
    log:
        "data/logs/table15.log",
    shell:
        "python -m rge.stages.table15 --cfg {params.cfg:q} {params.io} --log {log:q}"


rule report:
    """The study in one self-contained HTML page: tables, Figure 4, curves, examples."""
    input:
        table=report_tables,
        figure4=report_figures,
        train_log=report_train_files("train_log.jsonl"),
        summary=report_train_files("summary.json"),
        probe="data/pretrain_backbone/probe.json",
        embed_eval=report_evaluations,
        eval_task=eval_task_dirs_all,
    output:
        report="data/report/report.html",
    threads: rule_threads("report")
    resources:
        **rule_resources("report"),
    params:
        cfg=cfg_report,
        io=stage_io,
    conda:
        "../environment.yml"
    log:
        "data/logs/report.log",
    shell:
        "python -m rge.stages.report --cfg {params.cfg:q} {params.io} --log {log:q}"
