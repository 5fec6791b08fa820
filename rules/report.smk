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
        src=repo_file("src"),
    conda:
        "../workflow/envs/report.yaml"
    log:
        "data/logs/table2.log",
    shell:
        "PYTHONPATH={params.src:q} python -m rge.stages.table2 --cfg {params.cfg:q} {params.io} --log {log:q}"


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
        src=repo_file("src"),
    conda:
        "../workflow/envs/report.yaml"
    log:
        "data/logs/table15.log",
    shell:
        "PYTHONPATH={params.src:q} python -m rge.stages.table15 --cfg {params.cfg:q} {params.io} --log {log:q}"


rule table1:
    """Paper Table 1: leakage at small scale (q->t, (q;r_oracle)->t, (q;r_self)->t)."""
    input:
        summary=table_summaries("table1"),
        train_summary=table_train_summaries("table1"),
        probe="data/pretrain_backbone/probe.json",
        paper=repo_file("config/paper_numbers/table01_leakage_small.csv"),
    output:
        md="data/table1/table1_leakage_small.md",
        csv="data/table1/table1_leakage_small.csv",
        tex="data/table1/table1_leakage_small.tex",
    threads: rule_threads("table1")
    resources:
        **rule_resources("table1"),
    params:
        cfg=cfg_table1,
        io=stage_io,
        src=repo_file("src"),
    conda:
        "../workflow/envs/report.yaml"
    log:
        "data/logs/table1.log",
    shell:
        "PYTHONPATH={params.src:q} python -m rge.stages.table1 --cfg {params.cfg:q} {params.io} --log {log:q}"


rule table3:
    """Paper Table 3: the alpha_lm : alpha_con ablation."""
    input:
        summary=table_summaries("table3"),
        train_summary=table_train_summaries("table3"),
        probe="data/pretrain_backbone/probe.json",
        paper=repo_file("config/paper_numbers/table03_loss_balance.csv"),
    output:
        md="data/table3/table3_loss_balance.md",
        csv="data/table3/table3_loss_balance.csv",
        tex="data/table3/table3_loss_balance.tex",
    threads: rule_threads("table3")
    resources:
        **rule_resources("table3"),
    params:
        cfg=cfg_table3,
        io=stage_io,
        src=repo_file("src"),
    conda:
        "../workflow/envs/report.yaml"
    log:
        "data/logs/table3.log",
    shell:
        "PYTHONPATH={params.src:q} python -m rge.stages.table3 --cfg {params.cfg:q} {params.io} --log {log:q}"


rule table4:
    """Paper Table 4: the contrastive pair ablation."""
    input:
        summary=table_summaries("table4"),
        train_summary=table_train_summaries("table4"),
        probe="data/pretrain_backbone/probe.json",
        paper=repo_file("config/paper_numbers/table04_contrastive_pair.csv"),
    output:
        md="data/table4/table4_contrastive_pair.md",
        csv="data/table4/table4_contrastive_pair.csv",
        tex="data/table4/table4_contrastive_pair.tex",
    threads: rule_threads("table4")
    resources:
        **rule_resources("table4"),
    params:
        cfg=cfg_table4,
        io=stage_io,
        src=repo_file("src"),
    conda:
        "../workflow/envs/report.yaml"
    log:
        "data/logs/table4.log",
    shell:
        "PYTHONPATH={params.src:q} python -m rge.stages.table4 --cfg {params.cfg:q} {params.io} --log {log:q}"


rule table6:
    """Paper Table 6: reasoning at inference (baseline; RGE direct; RGE reasoning)."""
    input:
        summary=table_summaries("table6"),
        train_summary=table_train_summaries("table6"),
        probe="data/pretrain_backbone/probe.json",
        paper=repo_file("config/paper_numbers/table06_reasoning_at_inference.csv"),
    output:
        md="data/table6/table6_reasoning_at_inference.md",
        csv="data/table6/table6_reasoning_at_inference.csv",
        tex="data/table6/table6_reasoning_at_inference.tex",
    threads: rule_threads("table6")
    resources:
        **rule_resources("table6"),
    params:
        cfg=cfg_table6,
        io=stage_io,
        src=repo_file("src"),
    conda:
        "../workflow/envs/report.yaml"
    log:
        "data/logs/table6.log",
    shell:
        "PYTHONPATH={params.src:q} python -m rge.stages.table6 --cfg {params.cfg:q} {params.io} --log {log:q}"


rule table7:
    """Paper Table 7: Flickr30K and COCO R@1/5/10, reasoning on query and/or target side."""
    input:
        score=table7_scores,
        train_summary=table_train_summaries("table7"),
        probe="data/pretrain_backbone/probe.json",
        paper=repo_file("config/paper_numbers/table07_flickr_coco.csv"),
    output:
        md="data/table7/table7_flickr_coco.md",
        csv="data/table7/table7_flickr_coco.csv",
        tex="data/table7/table7_flickr_coco.tex",
    threads: rule_threads("table7")
    resources:
        **rule_resources("table7"),
    params:
        cfg=cfg_table7,
        io=stage_io,
        src=repo_file("src"),
    conda:
        "../workflow/envs/report.yaml"
    log:
        "data/logs/table7.log",
    shell:
        "PYTHONPATH={params.src:q} python -m rge.stages.table7 --cfg {params.cfg:q} {params.io} --log {log:q}"


rule figure4:
    """Paper Figure 4: LM and contrastive loss per step of the consistent and perturbed triplets."""
    input:
        train_log=leakage_files("train_log.jsonl"),
        summary=leakage_files("summary.json"),
    output:
        png="data/figure4/figure4_leakage.png",
        csv="data/figure4/figure4_leakage.csv",
        md="data/figure4/figure4_leakage.md",
    threads: rule_threads("figure4")
    resources:
        **rule_resources("figure4"),
    params:
        cfg=cfg_figure4,
        io=stage_io,
        src=repo_file("src"),
    conda:
        "../workflow/envs/report.yaml"
    log:
        "data/logs/figure4.log",
    shell:
        "PYTHONPATH={params.src:q} python -m rge.stages.figure4 --cfg {params.cfg:q} {params.io} --log {log:q}"


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
        src=repo_file("src"),
    conda:
        "../workflow/envs/report.yaml"
    log:
        "data/logs/report.log",
    shell:
        "PYTHONPATH={params.src:q} python -m rge.stages.report --cfg {params.cfg:q} {params.io} --log {log:q}"
