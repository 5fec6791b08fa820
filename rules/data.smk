# Phase 1 — data: the benchmark (synthetic or MMEB from the hub / a mirror), fetched per
# subset/task/bench, then validated and normalised for training.


rule make_synthetic:
    """The synthetic benchmark, written in the exact layout of the hub repos (DESIGN §4)."""
    output:
        out=directory(out("make_synthetic")),
    threads: threads_for("make_synthetic")
    resources:
        **resources_for("make_synthetic"),
    params:
        **stage_params("make_synthetic"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("make_synthetic"),
    shell:
        STAGE


rule fetch_mmeb_train:
    """One MMEB-train subset (parquet + its images), from the hub or a local mirror."""
    input:
        mirror=mirror_input,
    output:
        out=directory(out("fetch_mmeb_train/{subset}")),
    threads: threads_for("fetch_mmeb_train")
    resources:
        **resources_for("fetch_mmeb_train"),
    params:
        **stage_params("fetch_mmeb_train"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("fetch_mmeb_train", "{subset}"),
    shell:
        STAGE


rule fetch_mmeb_eval:
    """One MMEB-eval task (parquet + its images), from the hub or a local mirror."""
    input:
        mirror=mirror_input,
    output:
        out=directory(out("fetch_mmeb_eval/{task}")),
    threads: threads_for("fetch_mmeb_eval")
    resources:
        **resources_for("fetch_mmeb_eval"),
    params:
        **stage_params("fetch_mmeb_eval"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("fetch_mmeb_eval", "{task}"),
    shell:
        STAGE


rule fetch_prompt_tables:
    """The RGE release's instruction-rewrite tables at a pinned commit (prompt protocol
    rge_release); the synthetic benchmark's own tables from its mirror."""
    input:
        mirror=mirror_input,
    output:
        out=directory(out("fetch_prompt_tables")),
    threads: threads_for("fetch_prompt_tables")
    resources:
        **resources_for("fetch_prompt_tables"),
    params:
        **stage_params("fetch_prompt_tables"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("fetch_prompt_tables"),
    shell:
        STAGE


rule fetch_retrieval:
    """One Flickr30K/COCO-style retrieval set, from the hub or a local mirror."""
    input:
        mirror=mirror_input,
    output:
        out=directory(out("fetch_retrieval/{bench}")),
    threads: threads_for("fetch_retrieval")
    resources:
        **resources_for("fetch_retrieval"),
    params:
        **stage_params("fetch_retrieval"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("fetch_retrieval", "{bench}"),
    shell:
        STAGE


rule prepare_train:
    """Validated, normalised training pairs of one subset; bad rows reported with reasons."""
    input:
        fetched=out("fetch_mmeb_train/{subset}"),
    output:
        records=out("prepare_train/{subset}.jsonl"),
        report=out("prepare_train/{subset}.report.json"),
    threads: threads_for("prepare_train")
    resources:
        **resources_for("prepare_train"),
    params:
        **stage_params("prepare_train"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("prepare_train", "{subset}"),
    shell:
        STAGE


rule select_cold_start:
    """The cold-start subset (paper §3.3: 160K examples), stratified over the training subsets."""
    input:
        records=cold_start_records,
    output:
        selection=out("select_cold_start/selection.json"),
    threads: threads_for("select_cold_start")
    resources:
        **resources_for("select_cold_start"),
    params:
        **stage_params("select_cold_start"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("select_cold_start"),
    shell:
        STAGE


rule data_report:
    """Per MMEB-eval task: rows whose candidate list repeats the ground truth or holds
    duplicates; the rewrite tables' coverage (subsets and tasks without an entry)."""
    input:
        data=eval_task_dirs_all,
        prompt_tables=out("fetch_prompt_tables"),
    output:
        json=out("data_report/data_report.json"),
        md=out("data_report/data_report.md"),
    threads: threads_for("data_report")
    resources:
        **resources_for("data_report"),
    params:
        **stage_params("data_report"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("data_report"),
    shell:
        STAGE
