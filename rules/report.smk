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
