"""Image files as the models see them: RGB, no side shorter than 28 pixels.

``load_image`` is the one place an image file becomes a ``PIL.Image``; loaders call
``check_image`` to find missing or unreadable files while reading a dataset, so a bad file is
reported with its dataset row rather than crashing a training step later.
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, UnidentifiedImageError

# Qwen2-VL patches are 14 px merged 2x2, so a side below 28 px yields no visual token;
# RGE's "original" resolution upsizes such sides to 28 (mmeb-facts §1.5).
MIN_SIDE = 28


class ImageError(ValueError):
    """An image file is missing or cannot be decoded; the message names the file."""


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert any PIL mode (L, LA, P, RGBA, CMYK, I, ...) to RGB.

    Alpha is dropped and the stored colour channels kept (what RGE's ``convert("RGB")`` does);
    palette images with a transparency entry go through RGBA, as PIL asks, to avoid its warning.
    """
    if img.mode == "RGB":
        return img
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("I", "I;16", "F"):
        # 16/32-bit greyscale: scale into 8 bits before converting.
        img = img.point(lambda v: v / 256).convert("L")
    return img.convert("RGB")


def ensure_min_side(img: Image.Image, min_side: int = MIN_SIDE) -> Image.Image:
    """Upsize each side shorter than ``min_side`` to ``min_side`` (the other side is kept)."""
    w, h = img.size
    if w >= min_side and h >= min_side:
        return img
    return img.resize((max(w, min_side), max(h, min_side)), Image.Resampling.BICUBIC)


def load_image(path: str | os.PathLike, min_side: int = MIN_SIDE) -> Image.Image:
    """Read an image file as RGB with no side shorter than ``min_side``.

    Args:
        path: the image file.
        min_side: sides shorter than this are upsized to it.

    Returns:
        A fully decoded RGB ``PIL.Image``.

    Raises:
        ImageError: the file is missing or is not a decodable image.
    """
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: image file not found")
    try:
        with Image.open(path) as img:
            img.load()
            rgb = to_rgb(img)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise ImageError(f"{path}: cannot read image ({err})") from err
    return ensure_min_side(rgb, min_side)


def check_image(path: str | os.PathLike) -> str | None:
    """Return why ``path`` is not a usable image, or None if it is.

    Opens the file and runs PIL's ``verify`` (header and structure); pixel data is decoded
    later by ``load_image``, which raises naming the file if it is truncated.
    """
    path = Path(path)
    if not path.is_file():
        return f"image file not found: {path}"
    try:
        with Image.open(path) as img:
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        return f"cannot read image {path} ({err})"
    return None
