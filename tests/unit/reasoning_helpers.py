"""Test helpers for reasoning mode: mixed items, and a tiny model that stops at ``<emb>`` on some
rows at different steps while other rows run into the cap.

Also fakes for the evaluation stages in reasoning mode (``reasoning_word_encoder``).

A freshly built model never picks ``<emb>``. ``stopping_model`` makes ``<emb>``'s LM-head row a
hair larger than the row of a token ``t`` that the unbiased greedy decode writes on some rows
(at different steps) but not on others: ``<emb>`` then wins exactly where ``t`` would have won
(its logit being positive there), and the trajectories before that are unchanged (the ``<emb>``
row changes no other logit).
"""

from __future__ import annotations

import random
from typing import Any

import torch

from rge.data.records import IMAGE_TOKEN, Item
from rge.data.scenes import render_scene, sample_scene
from rge.evaluate.encoders import ReasoningEncoder
from rge.model.factory import emb_token_id
from rge.model.reasoning import Rationale, generate_rationales
from tests.unit.eval_fakes import COLOURS, WordEncoder
from tests.unit.tiny_model import small_model

CAP = 12  # max_new_tokens used with the stopping model


def mixed_items() -> tuple[list[Item], Any]:
    """Image queries at three sizes (16, 4 and 9 image tokens) interleaved with text-only ones."""
    rng = random.Random(0)
    sizes = {"s0": 112, "s1": 56, "s2": 84, "s3": 112}
    images = {k: render_scene(sample_scene(rng), size) for k, size in sizes.items()}
    items = [
        Item(f"{IMAGE_TOKEN} What is on the left?", "s0"),
        Item(f"{IMAGE_TOKEN} Name the colour next to the red one.", "s1"),
        Item("a text only query about shapes"),
        Item(f"{IMAGE_TOKEN} right?", "s2"),
        Item("another one"),
        Item(f"{IMAGE_TOKEN} describe", "s3"),
    ]
    return items, images.__getitem__


def first_steps(token_ids: list[tuple[int, ...]]) -> dict[int, list[int | None]]:
    """token -> the first step at which each row wrote it (None: never)."""
    tokens = sorted({t for ids in token_ids for t in ids})
    return {t: [ids.index(t) if t in ids else None for ids in token_ids] for t in tokens}


def pick_stop_token(token_ids: list[tuple[int, ...]]) -> int:
    """A token some rows write (at the most distinct steps) and at least one row never writes."""
    best, best_score = None, 0
    for t, steps in first_steps(token_ids).items():
        hit = [s for s in steps if s is not None]
        if not hit or len(hit) == len(steps):
            continue
        score = len(set(hit))
        if score > best_score:
            best, best_score = t, score
    if best is None or best_score < 2:
        raise AssertionError(f"no token stops rows at two different steps in {token_ids}")
    return best


def stopping_model(seed: int = 3) -> tuple[Any, Any, list[Item], Any]:
    """(model, processor, items, load_image): some rows stop at different steps, some hit CAP."""
    model, processor = small_model(seed=seed)
    items, load = mixed_items()
    plain = generate_rationales(model, processor, items, max_new_tokens=CAP, load_image=load)
    token = pick_stop_token([r.token_ids for r in plain])
    with torch.no_grad():
        w = model.lm_head.weight
        w[emb_token_id(processor)] = 1.001 * w[token]
    return model, processor, items, load


def fake_rationale(item: Item):
    """A deterministic stand-in rationale: n_tokens = length of the item's first colour word
    (0 without one), forced exactly for "blue"."""
    hit = [c for c in COLOURS if c in item.text.split()]
    colour = hit[0] if hit else ""
    ids = tuple(range(len(colour)))
    return Rationale(f"it is {colour}".strip(), ids, len(ids), colour == "blue")


def reasoning_word_encoder(calls: list | None = None):
    """A ``ReasoningEncoder`` over the WordEncoder's vectors and ``fake_rationale``."""
    words = WordEncoder()

    def embed(items: list[Item]):
        if calls is not None:
            calls.append(list(items))
        return words(items, "reasoning"), [fake_rationale(it) for it in items]

    return ReasoningEncoder(embed)
