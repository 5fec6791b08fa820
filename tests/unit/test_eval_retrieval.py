"""Caption<->image retrieval: recall on a hand-built set, mode/side routing, caption indexing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rge.data.records import IMAGE_TOKEN, Item, RetrievalSet
from rge.evaluate.retrieval import caption_index, evaluate_retrieval, retrieval_items

COLOURS = ("red", "green", "blue")
IMAGE_TEXT = f"{IMAGE_TOKEN} caption this"


def colour_vec(item: Item) -> np.ndarray:
    words = item.text.split() + ([Path(item.image).stem] if item.image else [])
    hits = [c for c in COLOURS if c in words]
    v = np.eye(len(COLOURS))[COLOURS.index(hits[0])] if hits else np.ones(len(COLOURS))
    return v / np.linalg.norm(v)


class Factory:
    """encoder_for(mode, side) that records which (mode, side) encoded which items."""

    def __init__(self, broken_mode: str | None = None) -> None:
        self.calls: list[tuple[str, str, str, int]] = []
        self.broken_mode = broken_mode

    def __call__(self, mode: str, side: str):
        def encode(items, side_):
            assert side_ == side
            kind = "image" if items[0].image else "caption"
            self.calls.append((mode, side, kind, len(items)))
            if mode == self.broken_mode:  # a degenerate encoder: everything identical
                return np.ones((len(items), len(COLOURS)))
            return np.stack([colour_vec(it) for it in items])

        return encode


def toy_set(captions: list[str]) -> RetrievalSet:
    return RetrievalSet("toy", tuple(f"/img/{c}.png" for c in COLOURS), tuple(captions))


CAPTIONS = ["a red one", "red again", "green here", "so green", "blue sky", "deep blue"]


def test_perfect_encoder_recalls_everything():
    out = evaluate_retrieval(
        toy_set(CAPTIONS), Factory(), "direct", "direct", image_text=IMAGE_TEXT
    )
    assert out["t2i"] == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0}
    assert out["i2t"] == {"R@1": 1.0, "R@5": 1.0, "R@10": 1.0}
    assert (out["num_images"], out["num_captions"]) == (3, 6)


def test_hand_computed_wrong_caption():
    # caption 3 (image green) says blue: in t2i its own image scores 0, tied with red and
    # below blue -> rank 2: a miss at R@1, a hit at R@3 -> 5/6 and 1.0
    caps = CAPTIONS[:3] + ["so blue"] + CAPTIONS[4:]
    out = evaluate_retrieval(
        toy_set(caps), Factory(), "direct", "direct", image_text=IMAGE_TEXT, ks=(1, 3)
    )
    assert out["t2i"] == {"R@1": pytest.approx(5 / 6), "R@3": 1.0}
    # i2t: green still has caption 2 at rank 0; blue's own captions (4, 5) tie with the wrong
    # caption 3 of another image, which counts above them -> rank 1 -> R@1 = 2/3
    assert out["i2t"] == {"R@1": pytest.approx(2 / 3), "R@3": 1.0}


def test_query_and_target_modes_route_to_sides():
    f = Factory()
    evaluate_retrieval(toy_set(CAPTIONS), f, "qm", "tm", image_text=IMAGE_TEXT)
    assert sorted(f.calls) == sorted(
        [
            ("qm", "query", "caption", 6),  # t2i queries
            ("tm", "target", "image", 3),  # t2i targets
            ("tm", "target", "caption", 6),  # i2t targets
            ("qm", "query", "image", 3),  # i2t queries
        ]
    )


def test_degenerate_query_mode_hurts_both_directions():
    out = evaluate_retrieval(
        toy_set(CAPTIONS), Factory(broken_mode="bad"), "bad", "direct", image_text=IMAGE_TEXT
    )
    assert out["t2i"]["R@1"] == 0.0 and out["i2t"]["R@1"] == 0.0
    assert out["t2i"]["R@5"] == 1.0  # only 3 images


def test_caption_index_and_items():
    rs = toy_set(CAPTIONS)
    assert caption_index(rs) == [0, 0, 1, 1, 2, 2]
    explicit = RetrievalSet("x", ("a", "b"), ("c0", "c1", "c2"), (1, 0, 1))
    assert caption_index(explicit) == [1, 0, 1]
    with pytest.raises(ValueError, match="evenly"):
        caption_index(RetrievalSet("x", ("a", "b"), ("c0", "c1", "c2")))
    caps, imgs = retrieval_items(rs, IMAGE_TEXT, "Caption: {caption}")
    assert caps[0] == Item("Caption: a red one") and imgs[2] == Item(IMAGE_TEXT, "/img/blue.png")
    # rge_release: no table entry for Flickr/COCO -> the newline rule only
    caps, imgs = retrieval_items(rs, IMAGE_TEXT, "Caption: {caption}", "rge_release")
    assert caps[0] == Item("Caption: a red one\n")
    assert imgs[2] == Item(IMAGE_TEXT + "\n", "/img/blue.png")
    with pytest.raises(ValueError, match="prompt protocol"):
        retrieval_items(rs, IMAGE_TEXT, protocol="vlm2vec")


def test_same_caption_string_on_two_images_is_one_item():
    # "a plain photo" (no colour word: the all-ones vector) describes both red and green:
    # both images are own for it, and with the degenerate caption vector every image ties
    caps = ["a plain photo", "red again", "a plain photo", "so green", "blue sky", "deep blue"]
    out = evaluate_retrieval(
        toy_set(caps), Factory(), "direct", "direct", image_text=IMAGE_TEXT, ks=(1, 2)
    )
    # t2i: caption 0/2 tie over red, green, blue; own = red and green, so blue alone is
    # non-own and ties -> rank 1: a miss at R@1, a hit at R@2; the other 4 are hits
    assert out["t2i"] == {"R@1": pytest.approx(4 / 6), "R@2": 1.0}
    # i2t: every image has its colour caption on top
    assert out["i2t"] == {"R@1": 1.0, "R@2": 1.0}
