"""Test helpers for the training tests: a small torch encoder and objective (no processor),
and synthetic scene pairs on disk for the tiny Qwen2.5-VL."""

from __future__ import annotations

import random
import zlib
from pathlib import Path

import torch
import torch.nn.functional as F

from rge.data.records import IMAGE_TOKEN, Item, TrainPair
from rge.data.scenes import render_scene, sample_scene
from rge.train.losses import info_nce
from rge.train.objectives import StepOutput


class FakeEncoder(torch.nn.Module):
    """Maps an item to a vector via a fixed text-hash feature, an MLP and dropout (uses torch RNG)."""

    def __init__(self, dim: int = 8) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.net = torch.nn.Sequential(
            torch.nn.Linear(dim, 16),
            torch.nn.ReLU(),
            torch.nn.Dropout(0.2),
            torch.nn.Linear(16, dim),
        )
        self.dim = dim

    def features(self, items: list[Item]) -> torch.Tensor:
        gens = [torch.Generator().manual_seed(zlib.crc32(it.text.encode())) for it in items]
        return torch.stack([torch.randn(self.dim, generator=g) for g in gens])

    def forward(self, items: list[Item]) -> torch.Tensor:
        return F.normalize(self.net(self.features(items)), dim=-1)


def fake_objective(model: FakeEncoder, processor: object, pairs: list[TrainPair]) -> StepOutput:
    """InfoNCE between encoded queries and positives (temperature 0.1)."""
    loss = info_nce(model([p.query for p in pairs]), model([p.pos for p in pairs]), temperature=0.1)
    return StepOutput(loss=loss, con=loss.item())


def text_pairs(n: int, subsets: tuple[str, ...] = ("a", "b")) -> list[TrainPair]:
    """``n`` text-only pairs spread over ``subsets``."""
    return [
        TrainPair(key=f"{s}/{i}", subset=s, query=Item(f"q {i}"), pos=Item(f"t {i}"))
        for i in range(n)
        for s in [subsets[i % len(subsets)]]
    ]


def scene_pairs(
    root: Path, n: int, *, seed: int = 0, negs: bool = False, size: int = 56
) -> list[TrainPair]:
    """``n`` image->text pairs over rendered scenes (two subsets), PNGs written under ``root``."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    out = []
    for i in range(n):
        scene = sample_scene(rng)
        path = root / f"scene_{i}.png"
        render_scene(scene, size=size).save(path)
        subset = ("left", "right")[i % 2]
        answer = scene[subset]["color"]
        other = scene["right" if subset == "left" else "left"]["color"]
        out.append(
            TrainPair(
                key=f"{subset}/{i}",
                subset=subset,
                query=Item(f"{IMAGE_TOKEN} colour on the {subset}?", str(path)),
                pos=Item(f"a {answer} object"),
                negs=(Item(f"a {other} object"),) if negs else (),
            )
        )
    return out
