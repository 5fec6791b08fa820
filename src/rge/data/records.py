"""The in-memory records every part of rge exchanges (loaders produce them, models consume them).

Text follows MMEB: an image, when present, is marked in the text by ``IMAGE_TOKEN``
(``<|image_1|>``); the model's chat formatting turns it into the backbone's placeholder.
Image paths are absolute (resolved by the loader against the dataset's image root).
"""

from __future__ import annotations

from dataclasses import dataclass, field

IMAGE_TOKEN = "<|image_1|>"


@dataclass(frozen=True)
class Item:
    """One side of a pair: MMEB text plus an optional image file."""

    text: str
    image: str | None = None

    @property
    def key(self) -> tuple[str, str]:
        """The (text, image) key used to deduplicate and cache embeddings."""
        return (self.text, self.image or "")


@dataclass(frozen=True)
class TrainPair:
    """One MMEB-train row: a query, its positive target, optional hard negatives."""

    key: str  # stable row id, "<subset>/<row index in the parquet>"
    subset: str
    query: Item
    pos: Item
    negs: tuple[Item, ...] = ()


@dataclass(frozen=True)
class EvalRow:
    """One MMEB-eval row: a query and its own candidate list, ground truth at index 0."""

    key: str  # "<task>/<row index>"
    task: str
    query: Item
    candidates: tuple[Item, ...]


@dataclass(frozen=True)
class RetrievalSet:
    """A Flickr30K/COCO-style set: images, and captions ordered image-major.

    ``caption_image[j]`` is the index of the image caption j describes (i // 5 for 5 captions).
    """

    name: str
    images: tuple[str, ...]
    captions: tuple[str, ...]
    caption_image: tuple[int, ...] = field(default=())
