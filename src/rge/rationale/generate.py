"""Oracle rationale generation for one shard of one training subset (paper §3.2), resumable.

Rows ``i`` of the subset's prepared records with ``i % num_shards == shard`` are the shard's.
Each gets the subset's oracle prompt and one rationale from the chosen backend; rows go to
``<output>.partial`` (flushed after every batch), so that a killed job started again keeps the
rows already there and generates only the rest. When the shard is complete the output is
written in record order and the partial file removed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rge.data.mmeb import read_train_records
from rge.io import write_jsonl
from rge.rationale.backend import OracleRequest, RationaleBackend
from rge.rationale.partial import append_rows, partial_path, read_partial, rewrite_partial
from rge.rationale.prompts import load_prompts, render_prompt
from rge.rationale.store import FIELDS

if TYPE_CHECKING:
    from rge.config import RationalesView

log = logging.getLogger(__name__)

BACKENDS = ("scene", "hf", "vllm")
_HF_KEYS = ("max_new_tokens", "temperature", "top_p", "model_id", "dtype", "device")
_VLLM_KEYS = (
    "revision", "tensor_parallel_size", "max_model_len", "gpu_memory_utilization", "dtype",
    "temperature", "top_p", "max_tokens", "stop", "stop_tokens", "max_images",
    "image_placeholder", "trust_remote_code", "mm_processor_kwargs", "engine_kwargs",
)  # fmt: skip


def build_backend(
    name: str, settings: dict, inputs: Mapping[str, Any], subset: str, seed: int
) -> RationaleBackend:
    """The backend ``name`` configured from ``settings`` and the named stage inputs.

    Args:
        name: ``scene`` (the synthetic benchmark's scene-grounded writer), ``hf``
            (transformers ``generate``) or ``vllm``.
        settings: the backend's settings (keys in the ``oracle_rationales`` stage docstring).
        inputs: {input name: path}; ``scenes`` (scene) and ``model`` (hf; optional for vllm).
        subset: the training subset the rows belong to.
        seed: the rationale seed.

    Raises:
        ValueError: an unknown backend, a missing input, or vllm without a model.
        KeyError: hf without ``min_pixels``/``max_pixels`` in ``settings``.
    """
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


def _need(inputs: Mapping[str, Any], name: str, backend: str) -> Any:
    if name not in inputs:
        raise ValueError(f"backend {backend} needs the input {name!r}; have {sorted(inputs)}")
    return inputs[name]


def rationale_row(req: OracleRequest, text: str, backend: RationaleBackend, seed: int) -> dict:
    """One rationale row in the ``rge.rationale.store`` schema: the text plus its provenance
    (backend, model, revision, prompt id and hash, sampling, seed)."""
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
    wanted = {r.key: rationale_row(r, "", backend, seed) for r in requests}
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


def generate_shard(cfg: RationalesView, inputs: Mapping[str, Any], out: Path) -> dict:
    """Generate one shard's rationales into ``out`` (JSONL, ``rge.rationale.store`` schema).

    Args:
        cfg: the ``oracle_rationales`` view (``rge.config.RationalesView``): ``subset``,
            ``backend``, ``shard``, ``num_shards``, ``seed``, ``batch_size``, ``settings``.
        inputs: {input name: path}: ``records`` (the subset's ``prepare_train`` JSONL),
            ``prompts`` (``config/prompts/oracle.yaml``), and what the backend needs
            (``build_backend``).
        out: the shard's output file; ``<out>.partial`` holds the rows done so far.

    Returns:
        {subset, shard, num_shards, rows, resumed, generated}.

    Raises:
        ValueError: a record of another subset, or a backend error from ``build_backend``
            (the view has refused a shard outside [0, num_shards)).
        KeyError: the subset has no oracle prompt.
    """
    subset, seed = cfg.subset, cfg.seed
    shard, num_shards, batch_size = cfg.shard, cfg.num_shards, cfg.batch_size
    pairs = read_train_records(inputs["records"])
    wrong = [p.key for p in pairs if p.subset != subset]
    if wrong:
        raise ValueError(
            f"{inputs['records']}: rows of another subset than {subset!r}: {wrong[:5]}"
        )
    book = load_prompts(inputs["prompts"])
    requests = [
        OracleRequest(p, render_prompt(book, subset, p)) for i, p in enumerate(pairs) if cfg.owns(i)
    ]
    backend = build_backend(cfg.backend, cfg.as_dict()["settings"], inputs, subset, seed)
    partial = partial_path(out)
    done = _resume(partial, requests, backend, seed)
    todo = [r for r in requests if r.key not in done]
    for start in range(0, len(todo), batch_size):
        batch = todo[start : start + batch_size]
        texts = backend.generate(batch)
        rows = [rationale_row(r, t, backend, seed) for r, t in zip(batch, texts, strict=True)]
        append_rows(partial, rows)
        done.update((r["key"], r) for r in rows)
        log.info("%s shard %d/%d: %d/%d rows", subset, shard, num_shards, len(done), len(requests))
    write_jsonl(out, [done[r.key] for r in requests])
    partial.unlink(missing_ok=True)
    return {
        "subset": subset,
        "shard": shard,
        "num_shards": num_shards,
        "rows": len(requests),
        "resumed": len(requests) - len(todo),
        "generated": len(todo),
    }
