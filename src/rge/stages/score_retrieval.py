"""Flickr30K / COCO-style retrieval for one run × bench × query-mode/target-mode (paper Table 7).

Captions and images are embedded with the run's model; text-to-image R@K counts captions whose
own image is in their top K, image-to-text R@K images with any own caption in their top K
(K = 1, 5, 10; ties counted against the ground truth). Reasoning on the query and/or target
side (Table 7) is selected by ``query_mode`` / ``target_mode``.

Config keys (cfg slice):
    run (str), bench (str): names written into the score.
    query_mode, target_mode (str): "direct" | "reasoning" ("reasoning" is not available yet).
    batch_size (int), min_pixels (int), max_pixels (int): as in ``embed_eval``.
    image_text (str, default DEFAULT_IMAGE_TEXT): the text paired with every image; must hold
        ``<|image_1|>``.
    caption_template (str, default "{caption}"): how a caption becomes the text side.
    ks (list[int], default [1, 5, 10]).

Inputs:
    model: the model directory.
    data: the fetched retrieval set (``retrieval.json`` manifest + ``images/``).
Outputs:
    score: JSON {run, bench, query_mode, target_mode, t2i: {R@K}, i2t: {R@K}, num_images,
        num_captions} (fractions in [0, 1]).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from rge.data.records import IMAGE_TOKEN, RetrievalSet
from rge.evaluate.encoders import check_mode
from rge.evaluate.retrieval import evaluate_retrieval
from rge.io import write_json
from rge.stages._cli import stage_main
from rge.stages.embed_eval import model_encoder_factory

log = logging.getLogger(__name__)

DEFAULT_IMAGE_TEXT = f"{IMAGE_TOKEN} Give a one-sentence caption of what this picture shows."


def load_set(data_dir: Path) -> RetrievalSet:
    """The retrieval set fetched into ``data_dir``."""
    from rge.data.retrieval import load_retrieval_set

    return load_retrieval_set(data_dir)


def run(
    cfg: dict,
    inputs,
    outputs,
    *,
    set_loader: Callable[[Path], RetrievalSet] = load_set,
    encoders=None,
) -> dict:
    """Score one retrieval set; ``set_loader`` and ``encoders`` are injectable for tests."""
    for mode in (cfg["query_mode"], cfg["target_mode"]):
        check_mode(mode)
    image_text = cfg.get("image_text", DEFAULT_IMAGE_TEXT)
    if IMAGE_TOKEN not in image_text:
        raise ValueError(f"cfg image_text must contain {IMAGE_TOKEN!r}: {image_text!r}")
    rs = set_loader(Path(inputs.data))
    encoder_for = (encoders or model_encoder_factory)(Path(inputs.model), cfg)
    start = time.perf_counter()
    result = evaluate_retrieval(
        rs,
        encoder_for,
        cfg["query_mode"],
        cfg["target_mode"],
        image_text=image_text,
        caption_template=cfg.get("caption_template", "{caption}"),
        ks=cfg.get("ks", (1, 5, 10)),
    )
    score = {"run": cfg["run"], "bench": cfg["bench"], **result}
    log.info(
        "%s/%s %s-%s: t2i %s i2t %s in %.1f s", cfg["run"], cfg["bench"], cfg["query_mode"],
        cfg["target_mode"], result["t2i"], result["i2t"], time.perf_counter() - start,
    )  # fmt: skip
    write_json(outputs.score, score)
    return score


def main(argv: list[str] | None = None, *, set_loader=load_set, encoders=None):
    """CLI entry point; tests inject ``set_loader`` / ``encoders``."""
    return stage_main(partial(run, set_loader=set_loader, encoders=encoders), argv, __doc__)


if __name__ == "__main__":
    main()
