# Phase 1 — data: the benchmark (synthetic or MMEB from the hub / a mirror), fetched per
# subset/task/bench, then validated and normalised for training.


rule make_synthetic:
    """The synthetic benchmark, written in the exact layout of the hub repos (DESIGN §4)."""
    output:
        out=directory("data/make_synthetic"),
    threads: rule_threads("make_synthetic")
    resources:
        **rule_resources("make_synthetic"),
    params:
        cfg=cfg_make_synthetic,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/make_synthetic.log",
    shell:
        "python -m rge.stages.make_synthetic --cfg {params.cfg:q} {params.io} --log {log:q}"


rule fetch_mmeb_train:
    """One MMEB-train subset (parquet + its images), from the hub or a local mirror."""
    input:
        mirror=mirror_input,
    output:
        out=directory("data/fetch_mmeb_train/{subset}"),
    threads: rule_threads("fetch_mmeb_train")
    resources:
        **rule_resources("fetch_mmeb_train"),
    params:
        cfg=cfg_fetch_mmeb_train,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/fetch_mmeb_train/{subset}.log",
    shell:
        "python -m rge.stages.fetch_mmeb_train --cfg {params.cfg:q} {params.io} --log {log:q}"


rule fetch_mmeb_eval:
    """One MMEB-eval task (parquet + its images), from the hub or a local mirror."""
    input:
        mirror=mirror_input,
    output:
        out=directory("data/fetch_mmeb_eval/{task}"),
    threads: rule_threads("fetch_mmeb_eval")
    resources:
        **rule_resources("fetch_mmeb_eval"),
    params:
        cfg=cfg_fetch_mmeb_eval,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/fetch_mmeb_eval/{task}.log",
    shell:
        "python -m rge.stages.fetch_mmeb_eval --cfg {params.cfg:q} {params.io} --log {log:q}"


rule fetch_retrieval:
    """One Flickr30K/COCO-style retrieval set, from the hub or a local mirror."""
    input:
        mirror=mirror_input,
    output:
        out=directory("data/fetch_retrieval/{bench}"),
    threads: rule_threads("fetch_retrieval")
    resources:
        **rule_resources("fetch_retrieval"),
    params:
        cfg=cfg_fetch_retrieval,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/fetch_retrieval/{bench}.log",
    shell:
        "python -m rge.stages.fetch_retrieval --cfg {params.cfg:q} {params.io} --log {log:q}"


rule prepare_train:
    """Validated, normalised training pairs of one subset; bad rows reported with reasons."""
    input:
        fetched="data/fetch_mmeb_train/{subset}",
    output:
        records="data/prepare_train/{subset}.jsonl",
        report="data/prepare_train/{subset}.report.json",
    threads: rule_threads("prepare_train")
    resources:
        **rule_resources("prepare_train"),
    params:
        cfg=cfg_prepare_train,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/prepare_train/{subset}.log",
    shell:
        "python -m rge.stages.prepare_train --cfg {params.cfg:q} {params.io} --log {log:q}"


rule select_cold_start:
    """The cold-start subset (paper §3.3: 160K examples), stratified over the training subsets."""
    input:
        records=cold_start_records,
    output:
        selection="data/select_cold_start/selection.json",
    threads: rule_threads("select_cold_start")
    resources:
        **rule_resources("select_cold_start"),
    params:
        cfg=cfg_select_cold_start,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/select_cold_start.log",
    shell:
        "python -m rge.stages.select_cold_start --cfg {params.cfg:q} {params.io} --log {log:q}"
