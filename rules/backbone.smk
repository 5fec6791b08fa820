# Phase 1 — backbone: every run starts from it. Embedded: the tiny Qwen2.5-VL pretrained on the
# synthetic training images, with a perception probe. Paper: the hub checkpoint plus <emb>.


rule pretrain_backbone:
    """The backbone every run starts from, and its perception-probe report."""
    input:
        scenes=synthetic_scenes,
    output:
        model=directory("data/pretrain_backbone/model"),
        report="data/pretrain_backbone/probe.json",
    threads: rule_threads("pretrain_backbone")
    resources:
        **rule_resources("pretrain_backbone"),
    params:
        cfg=cfg_pretrain_backbone,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/pretrain_backbone.log",
    benchmark:
        "data/benchmarks/pretrain_backbone.tsv"
    shell:
        "python -m rge.stages.pretrain_backbone --cfg {params.cfg:q} {params.io} --log {log:q}"
