"""Captioning: LM loss on the canonical scene description given the image and an instruction.

Fresh scenes every step (seeded), the RGE sequence format of ``rge.model.chat`` with the
description as the response and ``<emb>`` closing it (so the backbone already ends what it writes
the way RGE expects). Two learning rates: one for the vision tower + merger, one for the rest.

Prompts vary per example (``varied_prompt``): wording, length (about 1 to 35 words), layout,
and in a third of them an object named in words that the image need not show.
WHY: with one fixed prompt and ``rope_theta: 10`` the tiny backbone learns to read each image
column at a fixed relative distance from the token it writes, so it describes a scene only under
prompts of exactly that length (3 % all-four-correct one word longer, 6 % under the
``SynObjects`` query prompt; embedded-science-facts §2.3, issue 12 item 1). The benchmark's own
query prompts are deliberately not in the pool, so the perception probe's per-task prompts test
generalisation, not recall.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

from rge.backbone.common import scene_images, warmup_cosine
from rge.data.records import IMAGE_TOKEN, Item
from rge.data.scenes import (
    COLORS,
    SHAPES,
    SIDES,
    describe_scene,
    object_name,
    other_side,
    with_article,
)
from rge.model.chat import build_batch
from rge.model.embed import forward
from rge.progress import bar as progress_bar

if TYPE_CHECKING:
    from transformers import PreTrainedModel, Qwen2_5_VLProcessor

log = logging.getLogger(__name__)

CAPTION_PROMPT = "Name the colour and shape of the left and the right object."

# Instructions of 1-14 words (ours), the canonical one included; a varied prompt is one of them
# with neutral words around it.
INSTRUCTIONS: tuple[str, ...] = (
    CAPTION_PROMPT,
    "Describe.",
    "Describe the image.",
    "What do you see?",
    "Tell me what is shown here.",
    "Describe both objects in the picture.",
    "Which two shapes are in this picture, and what colours do they have?",
    "Say the colour and the shape of each object, first the left one, then the right one.",
    "Give the colour and shape of the left and the right shape.",
    "Write down what is on the left and what is on the right.",
    "Caption this image.",
    "List the objects from left to right.",
)
FILLER_WORDS: tuple[str, ...] = (
    "please", "now", "here", "is", "a", "the", "this", "an", "image", "picture", "photo",
    "look", "at", "carefully", "and", "then", "tell", "me", "question", "task", "next",
    "quickly", "thanks", "one", "of", "scene", "view", "shown", "above", "below", "first",
)  # fmt: skip
MAX_FILLER = 16  # neutral words around the instruction in all (count uniform on 0..MAX_FILLER)
# Share of varied prompts that also name an object in words (random colour/shape, unrelated to
# the scene). WHY: evaluation queries name objects (a grounding label, a referring phrase, a
# question's subject); trained on object-free prompts only, the backbone copied such words into
# its description (SynGround query 0.82 all-four-correct after 3600 steps, e.g. "labeled purple
# square" -> "right is purple circle"). Random words teach it to read the image, not the prompt.
MENTION_SHARE = 1 / 3
MENTIONS: tuple[str, ...] = ("the {c} {s}", "a {s}", "the {c} object", "{c} {s}", "the {s} in {c}")


def varied_prompt(
    rng: random.Random, instructions: Sequence[str] = INSTRUCTIONS, *, mentions: bool = True
) -> str:
    """One captioning prompt: a random instruction with 0-``MAX_FILLER`` filler words in all
    (count uniform, split at a uniform point into before and after it), in ``MENTION_SHARE`` of
    prompts a phrase naming a random object (``MENTIONS``) at a random place, the pieces joined
    by a space or a newline at random.

    Returns the text that follows the image (no image marker). Deterministic given ``rng``.
    Lengths span 1 to about 30 words, shorter and longer than ``CAPTION_PROMPT`` (11 words); a
    uniform total keeps short prompts as common as long ones. ``mentions=False`` never adds
    the object phrase (a question names its object itself).
    """
    words = [rng.choice(FILLER_WORDS) for _ in range(rng.randint(0, MAX_FILLER))]
    cut = rng.randint(0, len(words))
    before, after = words[:cut], words[cut:]
    pieces = [" ".join(before), rng.choice(instructions), " ".join(after)]
    if mentions and rng.random() < MENTION_SHARE:
        mention = rng.choice(MENTIONS).format(c=rng.choice(list(COLORS)), s=rng.choice(SHAPES))
        pieces.insert(rng.randint(0, len(pieces)), mention)
    pieces = [p for p in pieces if p]
    out = pieces[0]
    for piece in pieces[1:]:
        out += rng.choice((" ", "\n")) + piece
    return out


def _question(rng: random.Random, scene: dict) -> tuple[str, str]:
    """One question about ``scene`` and its answer clause (our wording, generic VQA forms).

    Five forms: what is on a side, the colour on a side, where a named object is, the shape of
    a colour, the colour of a shape; the last two only where that colour / shape is unique.
    """
    side = rng.choice(SIDES)
    obj, other = scene[side], scene[other_side(side)]
    forms = [
        (f"What can be seen on the {side}?", f"on the {side} : {with_article(object_name(obj))} ."),
        (f"Which colour has the {side} shape?", f"on the {side} the colour is {obj['color']} ."),
        (f"Where is the {object_name(obj)}?", f"the {object_name(obj)} is on the {side} ."),
    ]
    if obj["color"] != other["color"]:
        forms.append((f"Which shape is painted {obj['color']}?",
                      f"the {obj['color']} one is {with_article(obj['shape'])} ."))  # fmt: skip
    if obj["shape"] != other["shape"]:
        forms.append((f"Which colour does the {obj['shape']} have?",
                      f"the {obj['shape']} is {obj['color']} ."))  # fmt: skip
    return rng.choice(forms)


def caption_example(
    rng: random.Random,
    scene: dict,
    *,
    vary_prompt: bool,
    question_share: float,
    prompt: str,
    instructions: Sequence[str] = INSTRUCTIONS,
) -> tuple[str, str]:
    """(prompt, response) of one captioning example; the response always opens with the scene's
    description. In ``question_share`` of examples the instruction is a question about the scene
    (``_question``, among filler words as ``varied_prompt`` places them) and the response adds
    its answer after the description.

    WHY questions: captioning alone (with random object names in a third of the prompts)
    teaches the backbone to read the image and *ignore* the prompt, so no later stage could
    teach it to answer a question about one side or a named object (cold-start answer
    correctness 0.44 on colour QA, 0.35 on grounding after 400 steps, 0.60 / 0.40 after 1200;
    issue 12 item 2). The real backbone, an instruct model, answers such questions already.
    """
    if vary_prompt and question_share > 0 and rng.random() < question_share:
        question, answer = _question(rng, scene)
        return varied_prompt(rng, (question,), mentions=False), f"{describe_scene(scene)} {answer}"
    text = varied_prompt(rng, instructions) if vary_prompt else prompt
    return text, describe_scene(scene)


def param_groups(model: PreTrainedModel, lr_vision: float, lr_lm: float) -> list[dict]:
    """Vision tower + merger at ``lr_vision``; everything else at ``lr_lm``.

    Two rates because the two halves start in different places: the tower arrives trained by
    the warm-up, the language model from random initialisation (embedded config: 3e-3 / 2e-3).
    """
    vis = {id(p) for p in model.model.visual.parameters()}
    rest = [p for p in model.parameters() if id(p) not in vis]
    return [
        {"params": list(model.model.visual.parameters()), "lr": lr_vision},
        {"params": rest, "lr": lr_lm},
    ]


def caption_pretrain(
    model: PreTrainedModel,
    processor: Qwen2_5_VLProcessor,
    *,
    steps: int,
    lr_vision: float,
    lr_lm: float,
    batch_size: int,
    warmup_steps: int,
    min_lr_ratio: float,
    seed: int,
    prompt: str = CAPTION_PROMPT,
    vary_prompt: bool = False,
    question_share: float = 0.0,
    image_size: int = 112,
    pool: Sequence[dict] | None = None,
) -> dict:
    """Train the whole model on scene descriptions for ``steps``; return loss statistics.

    Each step draws ``batch_size`` scenes, fresh ones or from ``pool`` (the benchmark's training
    scenes); the loss is the token mean over the batch's descriptions. With ``vary_prompt`` every
    example gets ``varied_prompt`` over ``INSTRUCTIONS`` plus ``prompt``, drawn from a stream of
    its own (seeded by ``seed``) so the scenes drawn are the same as with one fixed prompt;
    without it (the default) every example uses ``prompt``. With ``vary_prompt`` and
    ``question_share`` > 0 that share of examples asks a question instead (``caption_example``).
    Returns ``{"steps", "first_loss", "final_loss_ema", "seconds", "vary_prompt",
    "question_share"}`` (losses: mean LM
    cross-entropy per response token, nats).
    """
    torch.manual_seed(seed)
    rng = random.Random(seed)
    prompt_rng = random.Random(f"{seed}:caption-prompt")
    instructions = INSTRUCTIONS if prompt in INSTRUCTIONS else (*INSTRUCTIONS, prompt)
    opt = torch.optim.AdamW(param_groups(model, lr_vision, lr_lm), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_cosine(s, total=steps, warmup=warmup_steps, min_ratio=min_lr_ratio)
    )
    model.train()
    t0, ema, first = time.perf_counter(), None, None
    # named by rule, like every job's progress (rge.progress: whole lines when jobs share a terminal)
    bar = progress_bar(steps, "pretrain_backbone captioning", mininterval=2.0)
    for _ in range(steps):
        batch, imgs = scene_images(rng, batch_size, image_size, pool)
        pairs = [
            caption_example(prompt_rng, s, vary_prompt=vary_prompt, question_share=question_share,
                            prompt=prompt, instructions=instructions)
            for s in batch
        ]  # fmt: skip
        items = [Item(f"{IMAGE_TOKEN} {t}", f"s{i}") for i, (t, _) in enumerate(pairs)]
        inputs = build_batch(processor, items, [r for _, r in pairs], load_image=imgs.__getitem__)
        _, loss_sum, n = forward(model, inputs)
        loss = loss_sum / n  # every description token weighs the same, <emb> included
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        val = loss.item()
        first = val if first is None else first
        ema = val if ema is None else 0.9 * ema + 0.1 * val
        bar.set_postfix(loss=f"{ema:.3f}", refresh=False)
        bar.update(1)
    bar.close()
    model.eval()
    stats = {"steps": steps, "first_loss": first, "final_loss_ema": ema, "vary_prompt": vary_prompt}
    stats["question_share"] = question_share if vary_prompt else 0.0
    stats["seconds"] = round(time.perf_counter() - t0, 2)
    log.info("captioning: %s", stats)
    return stats
