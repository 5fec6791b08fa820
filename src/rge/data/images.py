"""Image files as the models see them: 8-bit RGB, upright, no side shorter than 28 pixels.

``load_image`` is the one place an image file becomes a ``PIL.Image``; loaders call
``check_image`` while reading a dataset, so a file the models cannot use is reported with its
dataset row at load time rather than crashing an embedding or training step later.

The rule, applied in this order to every file PIL can open:

1. **Full decode.** Every byte of pixel data is decoded with PIL's ``LOAD_TRUNCATED_IMAGES``
   off, so a file cut short (a half-downloaded JPEG) is an error, not an image padded with grey.
2. **Orientation.** An EXIF ``Orientation`` tag is applied (``ImageOps.exif_transpose``), as the
   hub's ``datasets`` ``Image`` decoder does: a phone photo tagged "rotate 90°" is used upright,
   the way a viewer shows it.
3. **Mode.** Everything becomes 8-bit RGB. Alpha is dropped and the stored colour channels kept,
   as the RGE release's ``convert("RGB")`` does (palette images with a transparency entry go
   through RGBA first, which PIL asks for and which gives the same pixels). CMYK, YCbCr, LAB,
   HSV, greyscale and bilevel images use PIL's conversion. 16-bit greyscale (``I;16*``, and
   ``I`` with samples in 0..65535) keeps its top 8 bits, as a viewer maps it to the screen;
   PIL's own conversion would clip every sample above 255 to white. 32-bit float (``F``) and
   ``I`` samples outside 0..65535 have no standard display range and are refused.
4. **Size.** Each side shorter than ``MIN_SIDE`` (28) is upsized to it, the other side kept
   (RGE's "original" resolution, mmeb-facts §1.5).
5. **Aspect ratio.** The Qwen2-VL/Qwen2.5-VL image processor (``smart_resize`` in transformers)
   raises "absolute aspect ratio must be smaller than 200" when ``max(h, w) / min(h, w) > 200``
   for the image it receives, i.e. after steps 2 and 4. The same test is made here on that
   size, so such an image is refused naming its file (a 20×6000 strip: 6000 / 28 ≈ 214 after the
   upsizing of its short side). Orientation cannot change the ratio, so ``check_image(...,
   decode=False)`` tests it from the header alone.

Errors: ``load_image`` raises ``ImageError`` (a ``ValueError``) naming the file;
``check_image`` returns the same message instead of raising.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

# Qwen2-VL patches are 14 px merged 2x2, so a side below 28 px yields no visual token;
# RGE's "original" resolution upsizes such sides to 28 (mmeb-facts §1.5).
MIN_SIDE = 28
# transformers' qwen2_vl smart_resize refuses max(h, w) / min(h, w) > 200 (strictly greater).
MAX_ASPECT_RATIO = 200.0

# Everything PIL may raise on a damaged, hostile or unsupported file. DecompressionBombError
# (an image of > 2 x Image.MAX_IMAGE_PIXELS pixels) derives from Exception only.
_DECODE_ERRORS = (
    UnidentifiedImageError,
    OSError,
    SyntaxError,
    ValueError,
    Image.DecompressionBombError,
)
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N")


class ImageError(ValueError):
    """An image file is missing, cannot be decoded, or cannot be shown to the model."""


def to_rgb(img: Image.Image) -> Image.Image:
    """Convert a decoded image of any PIL mode to 8-bit RGB (rule step 3 in the module doc).

    Raises:
        ValueError: float samples, integer samples outside 0..65535, or a mode PIL cannot
            convert to RGB.
    """
    if img.mode == "RGB":
        return img
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    elif img.mode in _SIXTEEN_BIT or img.mode == "I":
        img = _top_byte(img)
    elif img.mode == "F":
        raise ValueError("32-bit float samples (mode F) have no standard display range")
    return img.convert("RGB")


def _top_byte(img: Image.Image) -> Image.Image:
    """16-bit greyscale -> 8-bit greyscale, keeping the high byte of every sample."""
    arr = np.asarray(img)
    if arr.size and (arr.min() < 0 or arr.max() > 0xFFFF):
        raise ValueError(
            f"mode {img.mode} samples span {arr.min()}..{arr.max()}, outside 16-bit 0..65535"
        )
    return Image.fromarray((arr.astype(np.uint32) >> 8).astype(np.uint8), mode="L")


def ensure_min_side(img: Image.Image, min_side: int = MIN_SIDE) -> Image.Image:
    """Upsize each side shorter than ``min_side`` to ``min_side`` (the other side is kept)."""
    w, h = img.size
    if w >= min_side and h >= min_side:
        return img
    return img.resize((max(w, min_side), max(h, min_side)), Image.Resampling.BICUBIC)


def aspect_problem(size: tuple[int, int], min_side: int = MIN_SIDE) -> str | None:
    """Why an image of ``size`` (width, height) would be refused by the Qwen-VL processor.

    The ratio is taken after ``ensure_min_side``, the size the processor receives.
    Returns None when ``max / min <= MAX_ASPECT_RATIO``.
    """
    w, h = (max(side, min_side) for side in size)
    ratio = max(w, h) / min(w, h)
    if ratio <= MAX_ASPECT_RATIO:
        return None
    return (
        f"aspect ratio {ratio:.1f} of {size[0]}x{size[1]} (as {w}x{h} after upsizing sides "
        f"below {min_side} px) exceeds {MAX_ASPECT_RATIO:.0f}, the Qwen-VL image processor's limit"
    )


def load_image(path: str | os.PathLike, min_side: int = MIN_SIDE) -> Image.Image:
    """Read an image file as the models see it (the rule in the module docstring).

    Args:
        path: the image file.
        min_side: sides shorter than this are upsized to it.

    Returns:
        A fully decoded, upright, 8-bit RGB ``PIL.Image`` with no side below ``min_side``.

    Raises:
        ImageError: the file is missing, truncated or otherwise undecodable, has a mode with no
            display mapping, or an aspect ratio the Qwen-VL processor refuses; names the file.
    """
    rgb = _decode(Path(path), min_side)
    return ensure_min_side(rgb, min_side)


def check_image(
    path: str | os.PathLike, *, decode: bool = True, min_side: int = MIN_SIDE
) -> str | None:
    """Return why ``path`` is not a usable image, or None if ``load_image`` will accept it.

    Args:
        path: the image file.
        decode: decode all pixel data and convert it, exactly as ``load_image`` does (finds
            truncated files); False reads only the header (existence, format, aspect ratio).
        min_side: as in ``load_image``.
    """
    try:
        if decode:
            _decode(Path(path), min_side)
        else:
            _check_header(Path(path), min_side)
    except ImageError as err:
        return str(err)
    return None


def _decode(path: Path, min_side: int) -> Image.Image:
    _require_file(path)
    try:
        with _no_truncated_loads(), Image.open(path) as img:
            img.load()
            upright = _upright(img)
            problem = aspect_problem(upright.size, min_side)
            if problem is None:
                return to_rgb(upright)
    except _DECODE_ERRORS as err:
        raise ImageError(f"{path}: cannot read image ({err})") from err
    raise ImageError(f"{path}: {problem}")


def _check_header(path: Path, min_side: int) -> None:
    _require_file(path)
    try:
        with Image.open(path) as img:
            size = img.size
    except _DECODE_ERRORS as err:
        raise ImageError(f"{path}: cannot read image ({err})") from err
    problem = aspect_problem(size, min_side)
    if problem is not None:
        raise ImageError(f"{path}: {problem}")


def _require_file(path: Path) -> None:
    if not path.is_file():
        raise ImageError(f"{path}: image file not found")


def _upright(img: Image.Image) -> Image.Image:
    # Same test as datasets' Image.decode_example: transpose only when the tag is present.
    if img.getexif().get(Image.ExifTags.Base.Orientation) is not None:
        return ImageOps.exif_transpose(img)
    return img


@contextlib.contextmanager
def _no_truncated_loads() -> Iterator[None]:
    # Another library may have set PIL's process-wide flag; a truncated file must still fail.
    saved = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = saved
