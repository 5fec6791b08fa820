"""Perception probe: does the backbone *see*? Greedy descriptions of held-out scenes, parsed and
scored per attribute (left/right colour and shape)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import TYPE_CHECKING

from rge.backbone.common import scene_images
from rge.data.records import IMAGE_TOKEN, Item
from rge.data.scenes import ATTRIBUTES, parse_description, render_scene, scene_attributes
from rge.model.reasoning import generate_rationales

if TYPE_CHECKING:
    from collections.abc import Callable

    from PIL.Image import Image
    from transformers import PreTrainedModel, Qwen2_5_VLProcessor

    from rge.model.generation import GenerationSettings


def generate(
    model: PreTrainedModel,
    processor: Qwen2_5_VLProcessor,
    items: list[Item],
    *,
    max_new_tokens: int,
    load_image: Callable[[str], Image],
    generation: GenerationSettings | None = None,
) -> list[str]:
    """Continuations (special tokens dropped) of ``items``, stopping at ``<emb>``.

    The shared decode loop of reasoning mode (``rge.model.reasoning``), decoded for reading;
    ``generation`` picks its engine and decoding (None: dynamic, greedy).
    """
    rationales = generate_rationales(
        model, processor, items, max_new_tokens=max_new_tokens, load_image=load_image,
        generation=generation,
    )  # fmt: skip
    return processor.tokenizer.batch_decode(
        [list(r.token_ids) for r in rationales], skip_special_tokens=True
    )


def perception_probe(
    model: PreTrainedModel,
    processor: Qwen2_5_VLProcessor,
    *,
    n_scenes: int,
    seed: int,
    prompt: str,
    batch_size: int = 64,
    max_new_tokens: int = 24,
    n_examples: int = 5,
    image_size: int = 112,
    pool: Sequence[dict] | None = None,
    generation: GenerationSettings | None = None,
) -> dict:
    """Describe ``n_scenes`` held-out scenes; return accuracy per attribute and a few examples.

    Held-out scenes are fresh draws from ``seed`` or, with ``pool`` (e.g. the benchmark's
    evaluation scenes), ``n_scenes`` distinct scenes of the pool (all of it if smaller).
    The descriptions are parsed (``rge.data.scenes.parse_description``); an attribute the text
    does not name counts as wrong. Returns {"n_scenes", "accuracy": {attribute: fraction},
    "examples": [{"truth", "generated"}]}; the stage compares the accuracies with the config's
    ``probe_threshold`` (DESIGN §11: the gate before any finding). ``generation``: the
    ``generation:`` block's settings (None: dynamic engine, greedy).
    """
    model.eval()
    rng = random.Random(seed)
    if pool:
        n_scenes = min(n_scenes, len(pool))
        pool = rng.sample(list(pool), n_scenes)
    hits = dict.fromkeys(ATTRIBUTES, 0)
    examples = []
    for start in range(0, n_scenes, batch_size):
        n = min(batch_size, n_scenes - start)
        if pool:
            batch = pool[start : start + n]
            imgs = {f"s{i}": render_scene(sc, image_size) for i, sc in enumerate(batch)}
        else:
            batch, imgs = scene_images(rng, n, image_size)
        items = [Item(f"{IMAGE_TOKEN} {prompt}", f"s{i}") for i in range(len(batch))]
        texts = generate(
            model, processor, items, max_new_tokens=max_new_tokens,
            load_image=imgs.__getitem__, generation=generation,
        )  # fmt: skip
        for scene, text in zip(batch, texts, strict=True):
            truth, got = scene_attributes(scene), parse_description(text)
            for a in ATTRIBUTES:
                hits[a] += int(got[a] == truth[a])
            if len(examples) < n_examples:
                examples.append({"truth": truth, "generated": text})
    accuracy = {a: hits[a] / n_scenes for a in ATTRIBUTES}
    return {"n_scenes": n_scenes, "accuracy": accuracy, "examples": examples}
