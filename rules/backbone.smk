# Phase 1 — backbone: every run starts from it. Embedded: the tiny Qwen2.5-VL pretrained on the
# synthetic training images, with a perception probe. Paper: the hub checkpoint plus <emb>.


rule pretrain_backbone:
    """The backbone every run starts from, and its perception-probe report."""
    input:
        scenes=synthetic_scenes,
    output:
        model=directory(out("pretrain_backbone/model")),
        report=out("pretrain_backbone/probe.json"),
    threads: threads_for("pretrain_backbone")
    resources:
        **resources_for("pretrain_backbone"),
    params:
        **stage_params("pretrain_backbone"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("pretrain_backbone"),
    benchmark:
        out("benchmarks/pretrain_backbone.tsv")
    shell:
        STAGE
