"""Flickr30K / COCO-style caption<->image retrieval, Recall@K in both directions (paper Table 7).

"Query" and "target" follow the direction: for text-to-image the captions are the queries and
the images the targets; for image-to-text the other way round. Reasoning on the query and/or
target side (Table 7) is nothing but which encoder ``encoder_for(mode, side)`` returns.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rge.data.protocol import check_protocol, ensure_newline
from rge.data.records import Item, RetrievalSet
from rge.evaluate.encoders import Encoder
from rge.evaluate.metrics import recall_i2t, recall_t2i
from rge.evaluate.mmeb import embed_unique

EncoderFactory = Callable[[str, str], Encoder]


def caption_index(rs: RetrievalSet) -> list[int]:
    """Image index of every caption; without ``caption_image``, captions are image-major.

    Raises:
        ValueError: ``caption_image`` of the wrong length, or captions that do not split evenly
            over the images when it is empty.
    """
    if rs.caption_image:
        if len(rs.caption_image) != len(rs.captions):
            raise ValueError(
                f"{rs.name}: caption_image has {len(rs.caption_image)} entries "
                f"for {len(rs.captions)} captions"
            )
        return list(rs.caption_image)
    if not rs.images or len(rs.captions) % len(rs.images):
        raise ValueError(
            f"{rs.name}: {len(rs.captions)} captions do not split evenly over "
            f"{len(rs.images)} images and caption_image is empty"
        )
    per = len(rs.captions) // len(rs.images)
    return [j // per for j in range(len(rs.captions))]


def retrieval_items(
    rs: RetrievalSet,
    image_text: str,
    caption_template: str = "{caption}",
    protocol: str = "mmeb",
) -> tuple[list[Item], list[Item]]:
    """(caption items, image items) of a set.

    Args:
        rs: the set.
        image_text: the text paired with every image (carries ``IMAGE_TOKEN`` + instruction).
        caption_template: format string with ``{caption}``.
        protocol: the prompt protocol (``rge.data.protocol``). The RGE release has no
            Flickr/COCO code and no table entries for them, so ``rge_release`` applies its
            no-entry rule: the text unchanged plus a trailing newline.
    """
    check_protocol(protocol)
    finish = ensure_newline if protocol == "rge_release" else str
    captions = [Item(finish(caption_template.format(caption=c))) for c in rs.captions]
    images = [Item(finish(image_text), path) for path in rs.images]
    return captions, images


def _embed(items: list[Item], mode: str, side: str, encoder_for: EncoderFactory) -> np.ndarray:
    index, vecs = embed_unique(items, side, encoder_for(mode, side))
    return vecs[[index[it.key] for it in items]]


def evaluate_retrieval(
    rs: RetrievalSet,
    encoder_for: EncoderFactory,
    query_mode: str,
    target_mode: str,
    *,
    image_text: str,
    caption_template: str = "{caption}",
    ks: Sequence[int] = (1, 5, 10),
    protocol: str = "mmeb",
) -> dict:
    """R@K text-to-image and image-to-text for one set.

    Args:
        rs: captions ordered image-major (or with ``caption_image``).
        encoder_for: ``encoder_for(mode, side)`` -> ``encode(items, side) -> (N, D)``.
        query_mode: embedding mode of the query side ("direct" or "reasoning").
        target_mode: embedding mode of the target side.
        image_text: text paired with each image; caption_template, protocol: see
            ``retrieval_items``.
        ks: the K values.

    Returns:
        {"t2i": {"R@K": recall}, "i2t": {...}, "num_images", "num_captions", "query_mode",
        "target_mode"}; recalls are fractions. Identical captions (and identical image files)
        are one item (``rge.evaluate.metrics.recall_t2i``).
    """
    gt = caption_index(rs)
    captions, images = retrieval_items(rs, image_text, caption_template, protocol)
    # text -> image: captions are queries, images targets
    sim_t2i = (
        _embed(captions, query_mode, "query", encoder_for)
        @ _embed(images, target_mode, "target", encoder_for).T
    )
    # image -> text: images are queries, captions targets (same (T, I) orientation)
    sim_i2t = (
        _embed(captions, target_mode, "target", encoder_for)
        @ _embed(images, query_mode, "query", encoder_for).T
    )
    # identical items are one item: a caption string attached to two images is own for both
    keys = {"caption_keys": [c.key for c in captions], "image_keys": [i.key for i in images]}
    return {
        "t2i": {f"R@{k}": v for k, v in recall_t2i(sim_t2i, gt, ks, **keys).items()},
        "i2t": {f"R@{k}": v for k, v in recall_i2t(sim_i2t, gt, ks, **keys).items()},
        "num_images": len(rs.images),
        "num_captions": len(rs.captions),
        "query_mode": query_mode,
        "target_mode": target_mode,
    }


def reasoning_entries(
    rs: RetrievalSet,
    query_mode: str,
    target_mode: str,
    *,
    image_text: str,
    caption_template: str = "{caption}",
    protocol: str = "mmeb",
) -> list[tuple[str, str, Item]]:
    """(key, side, item) of every item embedded in reasoning mode by ``evaluate_retrieval``.

    Keys ``caption/<j>`` and ``image/<i>``; captions are queries of text-to-image and targets
    of image-to-text, images the other way round.
    """
    captions, images = retrieval_items(rs, image_text, caption_template, protocol)
    named = {
        "caption": [(f"caption/{j}", it) for j, it in enumerate(captions)],
        "image": [(f"image/{i}", it) for i, it in enumerate(images)],
    }
    entries = []
    for side, mode, first, second in (
        ("query", query_mode, "caption", "image"),
        ("target", target_mode, "image", "caption"),
    ):
        if mode == "reasoning":
            entries += [(k, side, it) for k, it in named[first] + named[second]]
    return entries
