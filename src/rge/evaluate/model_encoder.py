"""The encoder factory of an evaluation job, configured from its config slice.

Both MMEB scoring (``embed_eval``, paper §4.1/§4.2) and image-text retrieval
(``score_retrieval``, paper §6 / Table 7) embed with the run's saved model through
``rge.evaluate.encoders.model_encoders``; this is the one place that reads the model-related
keys of their config slices: the prompt protocol, the dtype and attention implementation the
model is loaded with (the ``generation:`` block; the RGE release evaluates in bfloat16 with
flash-attention-2) and the reasoning-mode decoding. ``encoding_settings`` names all of them,
for the embedding cache's key and for every score file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from rge.evaluate.encoders import model_encoders, resolve_attn_implementation
from rge.evaluate.retrieval import EncoderFactory
from rge.model.generation import GenerationSettings


def generation_settings(cfg: Mapping) -> GenerationSettings:
    """The slice's ``generation:`` block as settings, its ``attn_implementation`` resolved.

    Args:
        cfg: the evaluation config slice; reads ``generation`` (absent or {} = the defaults of
            ``GenerationSettings``; ``attn_implementation`` "auto" = flash-attention-2 when
            installed, else sdpa).

    Raises:
        ValueError: an unknown key or value (``GenerationSettings.from_dict``); ImportError:
            see ``resolve_attn_implementation``.
    """
    gen = dict(cfg.get("generation") or {})
    attn = resolve_attn_implementation(gen.get("attn_implementation", "sdpa"))
    return GenerationSettings.from_dict({**gen, "attn_implementation": attn})


def encoding_settings(cfg: Mapping) -> dict[str, Any]:
    """What makes a vector besides the model and the item, as recorded with every score.

    Args:
        cfg: the evaluation config slice; reads ``prompt_protocol`` (default "mmeb") and
            ``generation`` (see ``generation_settings``).

    Returns:
        {"prompt_protocol", "dtype", "attn_implementation" (resolved), "decoding"}:
        ``decoding`` is what reasoning mode applies, {"engine", "decoding", "cap"} of the
        ``generation`` block (the checkpoint's own ``generation_config``, which ``decoding:
        checkpoint`` follows, is part of the model's fingerprint).

    Raises:
        ValueError / ImportError: see ``generation_settings``.
    """
    settings = generation_settings(cfg)
    return {
        "prompt_protocol": cfg.get("prompt_protocol", "mmeb"),
        "dtype": settings.dtype,
        "attn_implementation": settings.attn_implementation,
        "decoding": {
            "engine": settings.engine, "decoding": settings.decoding, "cap": settings.cap,
        },
    }  # fmt: skip


def model_encoder_factory(model_dir: str | os.PathLike, cfg: Mapping) -> EncoderFactory:
    """``encoder_for(mode, side)`` over the run's saved model (loaded on first use).

    Args:
        model_dir: a directory written by ``rge.model.factory.save_pretrained``.
        cfg: the evaluation config slice; reads ``min_pixels``, ``max_pixels``, ``batch_size``
            (required), ``max_new_tokens`` (the reasoning budget, ``<emb>`` included;
            default None, which only direct mode allows), ``seed`` (of sampling, when the
            ``generation`` block allows it; default 0) and the keys of ``encoding_settings``.

    Returns:
        ``encoder_for(mode, side) -> encode(items, side)``; ``encode`` returns the items'
        embeddings as a float32 numpy array of shape (len(items), hidden size), on the CPU.

    Raises:
        KeyError: a required key is missing from ``cfg``.
    """
    settings = generation_settings(cfg)
    return model_encoders(
        model_dir,
        min_pixels=cfg["min_pixels"],
        max_pixels=cfg["max_pixels"],
        batch_size=cfg["batch_size"],
        max_new_tokens=cfg.get("max_new_tokens"),
        dtype=settings.dtype,
        attn_implementation=settings.attn_implementation,
        reasoning_options={"generation": settings, "seed": int(cfg["seed"])},
    )
