"""The encoder factory of an evaluation job, configured from its config slice.

Both MMEB scoring (``embed_eval``, paper §4.1/§4.2) and image-text retrieval
(``score_retrieval``, paper §6 / Table 7) embed with the run's saved model through
``rge.evaluate.encoders.model_encoders``; this is the one place that reads the model-related
keys of their config slices.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from rge.evaluate.encoders import model_encoders
from rge.evaluate.retrieval import EncoderFactory


def model_encoder_factory(model_dir: str | os.PathLike, cfg: Mapping) -> EncoderFactory:
    """``encoder_for(mode, side)`` over the run's saved model (loaded on first use).

    Args:
        model_dir: a directory written by ``rge.model.factory.save_pretrained``.
        cfg: the evaluation config slice; reads ``min_pixels``, ``max_pixels``, ``batch_size``
            (required) and ``max_new_tokens`` (the reasoning budget, ``<emb>`` included;
            default None, which only direct mode allows).

    Returns:
        ``encoder_for(mode, side) -> encode(items, side)``; ``encode`` returns the items'
        embeddings as a float32 numpy array of shape (len(items), hidden size), on the CPU.

    Raises:
        KeyError: a required key is missing from ``cfg``.
    """
    return model_encoders(
        model_dir,
        min_pixels=cfg["min_pixels"],
        max_pixels=cfg["max_pixels"],
        batch_size=cfg["batch_size"],
        max_new_tokens=cfg.get("max_new_tokens"),
    )
