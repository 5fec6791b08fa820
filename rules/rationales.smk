# Phase 2 — rationales: oracle rationales per training subset (sharded for the cluster,
# resumable), then merged and checked (word limit, forbidden phrases, empty/garbled outputs).


rule oracle_rationales:
    """Oracle rationales for one shard of one training subset (paper §3.2; DESIGN §7)."""
    input:
        records="data/prepare_train/{subset}.jsonl",
        prompts=repo_file("config/prompts/oracle.yaml"),
        scenes=rationale_scenes,
        model=rationale_model,
    output:
        rationales="data/oracle_rationales/{subset}/{shard}.jsonl",
    threads: rule_threads("oracle_rationales")
    resources:
        **rule_resources("oracle_rationales"),
    params:
        cfg=cfg_oracle_rationales,
        io=stage_io,
        src=repo_file("src"),
    conda:
        "../workflow/envs/vllm.yaml"
    log:
        "data/logs/oracle_rationales/{subset}/{shard}.log",
    benchmark:
        "data/benchmarks/oracle_rationales/{subset}/{shard}.tsv"
    # PYTHONPATH: the vLLM env cannot install rge's own (conflicting) pins, so it runs from src.
    shell:
        "PYTHONPATH={params.src:q} python -m rge.stages.oracle_rationales --cfg {params.cfg:q} {params.io} --log {log:q}"


rule check_rationales:
    """One subset's shards merged, one rationale per training row, checked and reported."""
    input:
        records="data/prepare_train/{subset}.jsonl",
        shards=rationale_shards,
        prompts=repo_file("config/prompts/oracle.yaml"),
    output:
        rationales="data/check_rationales/{subset}.jsonl",
        report="data/check_rationales/{subset}.report.json",
    threads: rule_threads("check_rationales")
    resources:
        **rule_resources("check_rationales"),
    params:
        cfg=cfg_check_rationales,
        io=stage_io,
    conda:
        "../workflow/envs/train.yaml"
    log:
        "data/logs/check_rationales/{subset}.log",
    shell:
        "python -m rge.stages.check_rationales --cfg {params.cfg:q} {params.io} --log {log:q}"
