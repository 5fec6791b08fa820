"""Write oracle rationales for one shard of one training subset (resumable).

Rows ``i`` of the subset's prepared records with ``i % num_shards == shard`` are this job's.
Each gets the subset's oracle prompt (``config/prompts``) and one rationale from the chosen
backend; rows go to ``<rationales>.partial`` (next to the output, flushed after every batch).
A killed job started again keeps the rows already there (deduplicated by key; rows written with
other settings are dropped and logged) and generates only the rest. When the shard is complete
the output is written atomically, in record order, and the partial file removed.

Config keys read (cfg slice):
    subset (str): the training subset.
    shard (int, default 0), num_shards (int, default 1): which rows (see above).
    backend (str): ``scene`` | ``hf`` | ``vllm``.
    seed (int, default 0): rationale seed (per-row seeds derive from it and the row key).
    batch_size (int, default 64): rows per backend call and per flush of the partial file.
    settings (dict, default {}): backend settings:
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

import logging
from typing import Any

from rge.data.mmeb import read_train_records
from rge.io import write_jsonl
from rge.rationale.backend import OracleRequest, RationaleBackend
from rge.rationale.partial import append_rows, partial_path, read_partial, rewrite_partial
from rge.rationale.prompts import load_prompts, render_prompt
from rge.rationale.store import FIELDS
from rge.stages._cli import Paths, stage_main

log = logging.getLogger(__name__)
BACKENDS = ("scene", "hf", "vllm")
_HF_KEYS = ("max_new_tokens", "temperature", "top_p", "model_id", "dtype", "device")
_VLLM_KEYS = (
    "revision", "tensor_parallel_size", "max_model_len", "gpu_memory_utilization", "dtype",
    "temperature", "top_p", "max_tokens", "stop", "stop_tokens", "max_images",
    "image_placeholder", "trust_remote_code", "mm_processor_kwargs", "engine_kwargs",
)  # fmt: skip


def build_backend(name: str, settings: dict, inputs: Paths, subset: str, seed: int) -> Any:
    """The backend ``name`` configured from ``settings`` and the stage inputs."""
    if name == "scene":
        from rge.rationale.scene import SceneBackend

        return SceneBackend.from_path(_need(inputs, "scenes", name), subset, seed=seed)
    if name == "hf":
        from rge.rationale.hf import HFBackend

        extra = {k: settings[k] for k in _HF_KEYS if k in settings}
        return HFBackend.from_pretrained(
            _need(inputs, "model", name),
            revision=settings.get("revision"),
            min_pixels=int(settings["min_pixels"]),
            max_pixels=int(settings["max_pixels"]),
            batch_size=int(settings.get("gen_batch_size", 8)),
            seed=seed,
            **extra,
        )
    if name == "vllm":
        from rge.rationale.vllm_backend import VLLMBackend

        model = str(inputs["model"]) if "model" in inputs else settings.get("model")
        if not model:
            raise ValueError("backend vllm needs settings.model or a 'model' input")
        extra = {k: settings[k] for k in _VLLM_KEYS if k in settings}
        return VLLMBackend(model, seed=seed, **extra)
    raise ValueError(f"unknown backend {name!r}; known: {BACKENDS}")


def _need(inputs: Paths, name: str, backend: str) -> Any:
    if name not in inputs:
        raise ValueError(f"backend {backend} needs the input {name!r}; have {sorted(inputs)}")
    return inputs[name]


def _row(req: OracleRequest, text: str, backend: RationaleBackend, seed: int) -> dict:
    """One rationale row in the store schema."""
    return {
        "key": req.key,
        "subset": req.pair.subset,
        "rationale": text,
        "backend": backend.name,
        "model": backend.model,
        "revision": backend.revision,
        "prompt_id": req.prompt.prompt_id,
        "prompt_hash": req.prompt.prompt_hash,
        "sampling": backend.sampling,
        "seed": seed,
    }


def _resume(partial, requests, backend, seed) -> dict[str, dict]:
    """Rows of the partial file that this job would write identically (but for the text)."""
    found = read_partial(partial)
    wanted = {r.key: _row(r, "", backend, seed) for r in requests}
    keep = {}
    for key, row in found.items():
        ref = wanted.get(key)
        if ref is not None and all(row.get(f) == ref[f] for f in FIELDS if f != "rationale"):
            keep[key] = row
    if len(keep) < len(found):
        log.warning("%s: dropped %d stale rows (other settings)", partial, len(found) - len(keep))
    if found:
        log.info("%s: resuming with %d of %d rows done", partial, len(keep), len(requests))
        rewrite_partial(partial, keep.values())  # also clears a truncated tail before appending
    return keep


def run(cfg: dict, inputs: Paths, outputs: Paths) -> dict:
    """Generate this shard's rationales; return a summary."""
    subset, seed = cfg["subset"], int(cfg.get("seed", 0))
    shard, num_shards = int(cfg.get("shard", 0)), int(cfg.get("num_shards", 1))
    batch_size = int(cfg.get("batch_size", 64))
    if not 0 <= shard < num_shards:
        raise ValueError(f"shard must be in [0, {num_shards}), got {shard}")
    pairs = read_train_records(inputs.records)
    wrong = [p.key for p in pairs if p.subset != subset]
    if wrong:
        raise ValueError(f"{inputs.records}: rows of another subset than {subset!r}: {wrong[:5]}")
    book = load_prompts(inputs.prompts)
    requests = [
        OracleRequest(p, render_prompt(book, subset, p))
        for i, p in enumerate(pairs)
        if i % num_shards == shard
    ]
    backend = build_backend(cfg["backend"], dict(cfg.get("settings") or {}), inputs, subset, seed)
    partial = partial_path(outputs.rationales)
    done = _resume(partial, requests, backend, seed)
    todo = [r for r in requests if r.key not in done]
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        texts = backend.generate(batch)
        rows = [_row(r, t, backend, seed) for r, t in zip(batch, texts, strict=True)]
        append_rows(partial, rows)
        done.update((r["key"], r) for r in rows)
        log.info("%s shard %d/%d: %d/%d rows", subset, shard, num_shards, len(done), len(requests))
    write_jsonl(outputs.rationales, [done[r.key] for r in requests])
    partial.unlink(missing_ok=True)
    return {
        "subset": subset,
        "shard": shard,
        "num_shards": num_shards,
        "rows": len(requests),
        "resumed": len(requests) - len(todo),
        "generated": len(todo),
    }


def main(argv: list[str] | None = None) -> dict:
    return stage_main(run, argv, __doc__)


if __name__ == "__main__":
    main()
