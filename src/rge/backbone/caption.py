"""Captioning: LM loss on the canonical scene description given the image and a short instruction.

Fresh scenes every step (seeded), the RGE sequence format of ``rge.model.chat`` with the
description as the response and ``<emb>`` closing it (so the backbone already ends what it writes
the way RGE expects). Two learning rates: one for the vision tower + merger, one for the rest.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from tqdm import tqdm

from rge.backbone.common import scene_images, warmup_cosine
from rge.data.records import IMAGE_TOKEN, Item
from rge.data.scenes import describe_scene
from rge.model.chat import build_batch
from rge.model.embed import forward

if TYPE_CHECKING:
    from transformers import PreTrainedModel, Qwen2_5_VLProcessor

log = logging.getLogger(__name__)

CAPTION_PROMPT = "Name the colour and shape of the left and the right object."


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
    image_size: int = 112,
    pool: Sequence[dict] | None = None,
) -> dict:
    """Train the whole model on scene descriptions for ``steps``; return loss statistics.

    Each step draws ``batch_size`` scenes, fresh ones or from ``pool`` (the benchmark's training
    scenes); the loss is the token mean over the batch's descriptions.
    Returns {"steps", "first_loss", "final_loss_ema", "seconds"}.
    """
    torch.manual_seed(seed)
    rng = random.Random(seed)
    opt = torch.optim.AdamW(param_groups(model, lr_vision, lr_lm), weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: warmup_cosine(s, total=steps, warmup=warmup_steps, min_ratio=min_lr_ratio)
    )
    model.train()
    t0, ema, first = time.perf_counter(), None, None
    bar = tqdm(range(steps), desc="captioning", mininterval=2.0)
    for _ in bar:
        batch, imgs = scene_images(rng, batch_size, image_size, pool)
        items = [Item(f"{IMAGE_TOKEN} {prompt}", f"s{i}") for i in range(batch_size)]
        inputs = build_batch(
            processor, items, [describe_scene(s) for s in batch], load_image=imgs.__getitem__
        )
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
    model.eval()
    stats = {"steps": steps, "first_loss": first, "final_loss_ema": ema}
    stats["seconds"] = round(time.perf_counter() - t0, 2)
    log.info("captioning: %s", stats)
    return stats
