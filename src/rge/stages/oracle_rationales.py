"""Write oracle rationales for one shard of one training subset (resumable).

Rows ``i`` of the subset's prepared records with ``i % num_shards == shard`` are this job's.
Each gets the subset's oracle prompt (``config/prompts``) and one rationale from the chosen
backend; rows go to ``<rationales>.partial`` (next to the output, flushed after every batch).
A killed job started again keeps the rows already there (deduplicated by key; rows written with
other settings are dropped and logged) and generates only the rest. When the shard is complete
the output is written atomically, in record order, and the partial file removed
(``rge.rationale.generate.generate_shard``).

Config keys read (cfg slice, as ``rge.config.RationalesView``; defaults in the schema):
    subset (str): the training subset.
    shard (int), num_shards (int): which rows (see above).
    backend (str): ``scene`` | ``hf`` | ``vllm``.
    seed (int): rationale seed (per-row seeds derive from it and the row key).
    batch_size (int): rows per backend call and per flush of the partial file.
    settings (dict): backend settings (the backends' own defaults in parentheses):
        scene: none.
        hf: min_pixels, max_pixels (required); dtype ("float32"), device (null = as loaded),
            model_id (recorded name; default the model path), revision (null),
            max_new_tokens (128), temperature (0.0 = greedy), top_p (1.0),
            gen_batch_size (8: rows per ``generate`` call).
        vllm: model (hub id or path; the ``model`` input wins if given), revision (null),
            tensor_parallel_size (1), max_model_len (8192), gpu_memory_utilization (0.9),
            dtype ("bfloat16"), temperature (0.0), top_p (1.0), max_tokens (128), stop ([]),
            stop_tokens (InternVL/Qwen end-of-turn tokens), max_images (2),
            image_placeholder ("<image>"), trust_remote_code (true), mm_processor_kwargs ({}),
            engine_kwargs ({}: any further ``vllm.LLM`` arguments).

Inputs:
    records: the subset's ``prepare_train`` records JSONL.
    prompts: the oracle prompt file (``config/prompts/oracle.yaml``).
    scenes: (scene) the scene sidecar folder (``<mirror>/scenes/train``) or the subset's file.
    model: (hf: required; vllm: optional) the model directory.
Outputs:
    rationales: the shard's JSONL, one row per shard row in the ``rge.rationale.store`` schema.
"""

from __future__ import annotations

from rge.config import RationalesView
from rge.rationale.generate import generate_shard
from rge.stages._cli import Paths, stage_main


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Generate this shard's rationales; return a summary."""
    return generate_shard(RationalesView.from_slice(cfg), inputs, outputs.rationales)


def main(argv: list[str] | None = None) -> dict:
    """CLI entry point."""
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
