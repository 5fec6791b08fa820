# Phase 2 — rationales: oracle rationales per training subset (sharded for the cluster,
# resumable), then merged and checked (word limit, forbidden phrases, empty/garbled outputs).


rule oracle_rationales:
    """Oracle rationales for one shard of one training subset (paper §3.2; DESIGN §7)."""
    input:
        records=out("prepare_train/{subset}.jsonl"),
        prompts=repo_file("config/prompts/oracle.yaml"),
        scenes=rationale_scenes,
        model=rationale_model,
    output:
        rationales=out("oracle_rationales/{subset}/{shard}.jsonl"),
    threads: threads_for("oracle_rationales")
    resources:
        **resources_for("oracle_rationales"),
    # FROM_SRC: the vLLM env cannot install rge's own (conflicting) pins, so it runs from src.
    params:
        **stage_params("oracle_rationales", FROM_SRC),
    conda:
        "../workflow/envs/vllm.yaml"
    log:
        log_for("oracle_rationales", "{subset}/{shard}"),
    benchmark:
        out("benchmarks/oracle_rationales/{subset}/{shard}.tsv")
    shell:
        STAGE


rule check_rationales:
    """One subset's shards merged, one rationale per training row, checked and reported."""
    input:
        records=out("prepare_train/{subset}.jsonl"),
        shards=rationale_shards,
        prompts=repo_file("config/prompts/oracle.yaml"),
    output:
        rationales=out("check_rationales/{subset}.jsonl"),
        report=out("check_rationales/{subset}.report.json"),
    threads: threads_for("check_rationales")
    resources:
        **resources_for("check_rationales"),
    params:
        **stage_params("check_rationales"),
    conda:
        "../workflow/envs/train.yaml"
    log:
        log_for("check_rationales", "{subset}"),
    shell:
        STAGE
