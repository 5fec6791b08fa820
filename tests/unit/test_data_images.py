"""rge.data.images: every mode becomes RGB, small sides are upsized, bad files are named."""

from __future__ import annotations

import pytest
from PIL import Image

from rge.data.images import ImageError, check_image, ensure_min_side, load_image


@pytest.mark.parametrize(
    ("mode", "fmt", "suffix"),
    [
        ("L", "PNG", "png"),
        ("CMYK", "JPEG", "jpg"),
        ("P", "PNG", "png"),
        ("RGBA", "PNG", "png"),
        ("LA", "PNG", "png"),
        ("I;16", "PNG", "png"),
    ],
)
def test_load_image_converts_to_rgb(tmp_path, mode, fmt, suffix):
    path = tmp_path / f"x.{suffix}"
    Image.new("RGB", (40, 30), (200, 10, 10)).convert(mode).save(path, format=fmt)
    img = load_image(path)
    assert img.mode == "RGB"
    assert img.size == (40, 30)


def test_rgba_keeps_colour_channels(tmp_path):
    path = tmp_path / "t.png"
    Image.new("RGBA", (30, 30), (255, 255, 255, 0)).save(path)
    # Alpha is dropped, not composited onto white: the stored colour channels survive.
    assert load_image(path).getpixel((5, 5)) == Image.open(path).convert("RGB").getpixel((5, 5))


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((10, 50), (28, 50)),
        ((50, 5), (50, 28)),
        ((3, 4), (28, 28)),
        ((28, 28), (28, 28)),
        ((100, 60), (100, 60)),
    ],
)
def test_small_sides_are_upsized_to_28(tmp_path, size, expected):
    path = tmp_path / "s.png"
    Image.new("RGB", size, (1, 2, 3)).save(path)
    assert load_image(path).size == expected
    assert ensure_min_side(Image.new("RGB", size)).size == expected


def test_missing_file_is_named(tmp_path):
    with pytest.raises(ImageError, match="nope.png.*not found"):
        load_image(tmp_path / "nope.png")
    assert "not found" in check_image(tmp_path / "nope.png")


def test_unreadable_file_is_named(tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"this is not an image")
    with pytest.raises(ImageError, match="bad.jpg.*cannot read"):
        load_image(bad)
    assert "cannot read" in check_image(bad)


def test_truncated_file_raises_on_load(tmp_path):
    path = tmp_path / "t.png"
    Image.effect_noise((64, 64), 50).convert("RGB").save(path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ImageError, match="t.png"):
        load_image(path)


def test_check_image_accepts_good_file(tmp_path):
    path = tmp_path / "ok.png"
    Image.new("RGB", (5, 5)).save(path)
    assert check_image(path) is None
