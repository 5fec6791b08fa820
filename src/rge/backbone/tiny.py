"""The embedded study's tiny backbone build: the model factory fed with the scene vocabulary.

``rge.model`` knows no dataset, so the words that should get their own BPE merges come from here:
the generic instruction words plus sentences over every colour, shape and side of the synthetic
scenes (``rge.data.scenes``). The synthetic benchmark's texts then encode in few tokens, which
keeps the tiny model's sequences short; text outside the corpus still encodes byte by byte.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from rge.data import scenes
from rge.model import factory
from rge.model.tokenizer import INSTRUCTION_CORPUS

if TYPE_CHECKING:
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor


def tokenizer_corpus() -> list[str]:
    """Sentences covering the scene vocabulary, the canonical descriptions and instruction words.

    Deterministic (no randomness): 2 instruction lines, then 2 sentences per (colour, shape,
    side), then one contrast sentence per ordered pair of distinct colours.
    """
    lines = list(INSTRUCTION_CORPUS)
    for color in scenes.COLORS:
        for shape in scenes.SHAPES:
            for side in scenes.SIDES:
                lines.append(f"{side} is {color} {shape} , the {color} {shape} is on the {side} .")
                lines.append(f"The {color} one on the {side} is a {shape}. Is it {color}? Yes.")
    for c1 in scenes.COLORS:
        for c2 in scenes.COLORS:
            if c1 != c2:
                lines.append(f"left is {c1} circle , right is {c2} square . not {c1} but {c2} .")
    return lines


def build_tiny(
    spec: dict, *, seed: int, min_pixels: int, max_pixels: int
) -> tuple[Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor]:
    """``rge.model.factory.build_tiny`` with the embedded study's tokenizer corpus.

    Same arguments, result and errors as the factory's; the tokenizer is trained on
    ``tokenizer_corpus()``.
    """
    return factory.build_tiny(
        spec, seed=seed, min_pixels=min_pixels, max_pixels=max_pixels, corpus=tokenizer_corpus()
    )
