"""Perception probe: does the backbone *see*, and can it *say* what it sees? Greedy descriptions
of held-out scenes, parsed and scored per attribute (left/right colour and shape).

``perception_probe`` scores one prompt. ``prompt_probe`` scores many on the same scenes (several
prompt lengths, every image task's query prompts) and reports the minimum all-four-correct rate
over the in-domain ones: the gate of issue 12 item 1. A model that describes scenes only under its
own captioning prompt passes the first and fails the second (embedded-science-facts §2.3).
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rge.backbone.common import scene_images
from rge.data.records import IMAGE_TOKEN, Item
from rge.data.scenes import (
    ATTRIBUTES,
    parse_description,
    render_scene,
    sample_scene,
    scene_attributes,
)
from rge.model.reasoning import generate_rationales

if TYPE_CHECKING:
    from collections.abc import Callable

    from PIL.Image import Image
    from transformers import PreTrainedModel, Qwen2_5_VLProcessor

    from rge.model.generation import GenerationSettings

# Prompts of three lengths around the captioning prompt (11 words), in wording the pretraining
# pool (rge.backbone.caption.INSTRUCTIONS) does not contain: 3, 12 and 24 words.
LENGTH_PROMPTS: dict[str, str] = {
    "short (3 words)": "What is here?",
    "caption + 1 word (12 words)": (
        "Please name the colour and shape of the left and the right object."
    ),
    "long (24 words)": (
        "Here is a small picture with two objects in it. Tell me the colour and the shape "
        "of each of them, left first."
    ),
}


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


def _as_item_text(prompt: str) -> str:
    """An instruction prompt follows the image (a prompt that carries the marker keeps it)."""
    return prompt if IMAGE_TOKEN in prompt else f"{IMAGE_TOKEN} {prompt}"


def _prompt_rows(
    spec: str | Sequence[str] | Sequence[tuple[str, dict]], scenes: list[dict], rng: random.Random
) -> list[tuple[str, dict]]:
    """(item text, scene) pairs for one prompt entry of ``prompt_probe`` (see there)."""
    if isinstance(spec, str):
        return [(_as_item_text(spec), sc) for sc in scenes]
    spec = list(spec)
    if not spec:
        raise ValueError("prompt_probe: empty prompt list")
    if all(isinstance(x, str) for x in spec):
        return [(_as_item_text(spec[i % len(spec)]), sc) for i, sc in enumerate(scenes)]
    if all(isinstance(x, tuple | list) and len(x) == 2 for x in spec):
        return [(str(t), sc) for t, sc in rng.sample(spec, min(len(scenes), len(spec)))]
    raise ValueError(
        f"prompt_probe: a prompt must be a str, a list of str or (text, scene) pairs; got {spec[:1]!r}"
    )


def _score_rows(
    model: Any,
    processor: Any,
    rows: list[tuple[str, dict]],
    *,
    batch_size: int,
    max_new_tokens: int,
    n_examples: int,
    image_size: int,
    generation: GenerationSettings | None = None,
) -> dict:
    """Describe each (item text, scene) row; per-attribute and all-four-correct rates. A text
    with the image marker is shown the scene's rendered image; one without it is text only."""
    hits, all4, examples = dict.fromkeys(ATTRIBUTES, 0), 0, []
    for start in range(0, len(rows), batch_size):
        batch = rows[start : start + batch_size]
        imgs = {f"s{i}": render_scene(sc, image_size) for i, (_, sc) in enumerate(batch)}
        items = [Item(t, f"s{i}" if IMAGE_TOKEN in t else None) for i, (t, _) in enumerate(batch)]
        texts = generate(
            model, processor, items, max_new_tokens=max_new_tokens,
            load_image=imgs.__getitem__, generation=generation,
        )  # fmt: skip
        for (prompt, scene), text in zip(batch, texts, strict=True):
            truth, got = scene_attributes(scene), parse_description(text)
            right = [got[a] == truth[a] for a in ATTRIBUTES]
            for a, ok in zip(ATTRIBUTES, right, strict=True):
                hits[a] += int(ok)
            all4 += int(all(right))
            if len(examples) < n_examples:
                examples.append({"prompt": prompt, "truth": truth, "generated": text})
    n = len(rows)
    return {
        "n_scenes": n,
        "all_correct": all4 / n,
        "accuracy": {a: hits[a] / n for a in ATTRIBUTES},
        "examples": examples,
    }


def prompt_probe(
    model: Any,
    processor: Any,
    prompts: Mapping[str, str | Sequence[str] | Sequence[tuple[str, dict]]],
    *,
    in_domain: Sequence[str],
    n_scenes: int,
    seed: int,
    batch_size: int = 64,
    max_new_tokens: int = 24,
    n_examples: int = 3,
    image_size: int = 112,
    pool: Sequence[dict] | None = None,
    generation: GenerationSettings | None = None,
) -> dict:
    """Score greedy descriptions under every prompt of ``prompts``; gate on the in-domain minimum.

    Args:
        prompts: name -> a prompt (the text after the image; a text holding the MMEB image marker
            keeps it where it is), or a list of prompts (scene i gets prompt i mod len), or a
            task's rows as (query text, scene) pairs (``n_scenes`` of them, sampled with the
            seed; the row's own scene is described; the query text is used as it is: with the
            marker the model sees the scene's image, without it the text only).
        in_domain: names of ``prompts`` whose minimum is the gate (e.g. the IND image tasks'
            query prompts and ``LENGTH_PROMPTS``); the others are reported, not gated.
        n_scenes: held-out scenes per prompt: fresh draws from ``seed`` or ``n_scenes`` distinct
            scenes of ``pool`` (all of it if smaller); str and list-of-str prompts all describe
            the same scenes, so their rates are paired.
        generation: the ``generation:`` block's settings (None: dynamic engine, greedy).

    Returns:
        ``{"prompts": {name: {"n_scenes", "all_correct", "accuracy": {attribute: rate},
        "examples"}}, "in_domain": [...], "min_in_domain": float,
        "min_in_domain_prompt": name}``; rates are fractions in [0, 1], all-four-correct means
        every attribute of the scene named right.

    Raises:
        ValueError: ``in_domain`` empty or naming a prompt not in ``prompts``; a malformed prompt.
    """
    missing = [n for n in in_domain if n not in prompts]
    if not in_domain or missing:
        raise ValueError(
            f"prompt_probe: in_domain must name prompts of {sorted(prompts)}; got {list(in_domain)}"
        )
    model.eval()
    rng = random.Random(seed)
    if pool:
        scenes = rng.sample(list(pool), min(n_scenes, len(pool)))
    else:
        scenes = [sample_scene(rng) for _ in range(n_scenes)]
    out = {}
    for name, spec in prompts.items():
        rows = _prompt_rows(spec, scenes, random.Random(f"{seed}:{name}"))
        out[name] = _score_rows(
            model,
            processor,
            rows,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            n_examples=n_examples,
            image_size=image_size,
            generation=generation,
        )
    worst = min(in_domain, key=lambda n: out[n]["all_correct"])
    return {
        "prompts": out,
        "in_domain": list(in_domain),
        "min_in_domain": out[worst]["all_correct"],
        "min_in_domain_prompt": worst,
    }
