"""Flickr30K / COCO-style retrieval for one run × bench × query-mode/target-mode (paper Table 7).

Captions and images are embedded with the run's model; text-to-image R@K counts captions whose
own image is in their top K, image-to-text R@K images with any own caption in their top K
(K = 1, 5, 10; ties counted against the ground truth). Reasoning on the query and/or target
side (Table 7) is selected by ``query_mode`` / ``target_mode``; each item is reasoned about
once even when it serves both sides.

Config keys (cfg slice):
    run (str), bench (str): names written into the score.
    query_mode, target_mode (str): "direct" | "reasoning".
    max_new_tokens (int): reasoning-mode generation budget, ``<emb>`` included; required when
        either side reasons.
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
        num_captions, max_new_tokens (null without reasoning), num_rationales,
        mean_rationale_tokens, forced_emb_rate (null without rationales)} (fractions in [0, 1]).
    rationales (optional): JSONL, one record per (side, item) embedded in reasoning mode: key
        ("caption/<j>" or "image/<i>"), side, text, image, rationale, n_tokens, forced.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from rge.data.records import IMAGE_TOKEN, RetrievalSet
from rge.evaluate.encoders import (
    check_mode,
    encoder_rationales,
    rationale_records,
    rationale_stats,
)
from rge.evaluate.retrieval import evaluate_retrieval, reasoning_entries
from rge.io import write_json, write_jsonl
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
    modes = (cfg["query_mode"], cfg["target_mode"])
    for mode in modes:
        check_mode(mode)
    if "reasoning" in modes and not isinstance(cfg.get("max_new_tokens"), int):
        raise KeyError(f"score_retrieval: reasoning needs cfg max_new_tokens (int), got {cfg}")
    image_text = cfg.get("image_text", DEFAULT_IMAGE_TEXT)
    if IMAGE_TOKEN not in image_text:
        raise ValueError(f"cfg image_text must contain {IMAGE_TOKEN!r}: {image_text!r}")
    caption_template = cfg.get("caption_template", "{caption}")
    rs = set_loader(Path(inputs.data))
    factory = (encoders or model_encoder_factory)(Path(inputs.model), cfg)
    made = {}

    def encoder_for(mode: str, side: str):
        # remember each encoder, to read the reasoning ones' rationales afterwards
        if (mode, side) not in made:
            made[mode, side] = factory(mode, side)
        return made[mode, side]

    start = time.perf_counter()
    result = evaluate_retrieval(
        rs,
        encoder_for,
        cfg["query_mode"],
        cfg["target_mode"],
        image_text=image_text,
        caption_template=caption_template,
        ks=cfg.get("ks", (1, 5, 10)),
    )
    rationales = {
        k: r for (mode, _), enc in made.items() if mode == "reasoning"
        for k, r in encoder_rationales(enc).items()
    }  # fmt: skip
    entries = reasoning_entries(
        rs, *modes, image_text=image_text, caption_template=caption_template
    )
    records = rationale_records(entries, rationales)
    score = {
        "run": cfg["run"],
        "bench": cfg["bench"],
        **result,
        "max_new_tokens": cfg["max_new_tokens"] if "reasoning" in modes else None,
        **rationale_stats(records),
    }
    log.info(
        "%s/%s %s-%s: t2i %s i2t %s in %.1f s", cfg["run"], cfg["bench"], cfg["query_mode"],
        cfg["target_mode"], result["t2i"], result["i2t"], time.perf_counter() - start,
    )  # fmt: skip
    if "rationales" in outputs:
        write_jsonl(outputs.rationales, records)
    write_json(outputs.score, score)
    return score


def main(argv: list[str] | None = None, *, set_loader=load_set, encoders=None):
    """CLI entry point; tests inject ``set_loader`` / ``encoders``."""
    return stage_main(partial(run, set_loader=set_loader, encoders=encoders), argv, __doc__)


if __name__ == "__main__":
    main()
