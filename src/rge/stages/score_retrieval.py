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
    image_text (str, default ``rge.evaluate.run.DEFAULT_IMAGE_TEXT``): the text paired with
        every image; must hold ``<|image_1|>``.
    caption_template (str, default "{caption}"): how a caption becomes the text side.
    ks (list[int], default [1, 5, 10]).
    prompt_protocol (str, default "mmeb"): "rge_release" adds the release's trailing newline
        (it has no table entry for Flickr/COCO); generation (dict, optional) and
        seed (int, default 0): as in ``embed_eval``.

Inputs:
    model: the model directory.
    data: the fetched retrieval set (``retrieval.json`` manifest + ``images/``).
Outputs:
    score: JSON {run, bench, query_mode, target_mode, t2i: {R@K}, i2t: {R@K}, num_images,
        num_captions, max_new_tokens (null without reasoning), prompt_protocol, dtype,
        attn_implementation (resolved), decoding (null without reasoning), num_rationales,
        mean_rationale_tokens, forced_emb_rate (null without rationales)} (fractions in [0, 1]).
    rationales (optional): JSONL, one record per (side, item) embedded in reasoning mode: key
        ("caption/<j>" or "image/<i>"), side, text, image, rationale, n_tokens, forced.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from rge.evaluate.run import score_retrieval_set
from rge.io import write_json, write_jsonl
from rge.stages._cli import Paths, stage_main


def run(cfg: dict, inputs: Paths, outputs: Paths, *, set_loader=None, encoders=None) -> dict:
    """Score one retrieval set; ``set_loader`` and ``encoders`` are injectable for tests."""
    score, records = score_retrieval_set(
        cfg, Path(inputs.model), Path(inputs.data), set_loader=set_loader, encoders=encoders
    )
    if "rationales" in outputs:
        write_jsonl(outputs.rationales, records)
    write_json(outputs.score, score)
    return score


def main(argv: list[str] | None = None, *, set_loader=None, encoders=None):
    """CLI entry point; tests inject ``set_loader`` / ``encoders``."""
    return stage_main(partial(run, set_loader=set_loader, encoders=encoders), argv, __doc__)


if __name__ == "__main__":
    main()
