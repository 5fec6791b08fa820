"""rge.data.images: every image is decoded upright into 8-bit RGB or refused naming its file."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageFile

from rge.data.images import (
    ImageError,
    aspect_problem,
    check_image,
    ensure_min_side,
    load_image,
)


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


# ------------------------------------------------------------------ the rule, case by case


def _quadrants(w: int = 64, h: int = 32) -> Image.Image:
    """Left half red, right half blue (big flat areas survive JPEG)."""
    img = Image.new("RGB", (w, h), (0, 0, 255))
    img.paste((255, 0, 0), (0, 0, w // 2, h))
    return img


def _near(got, want, tol=12):
    return all(abs(a - b) <= tol for a, b in zip(got, want, strict=True))


def test_exif_orientation_6_is_rotated_upright(tmp_path):
    # Orientation 6: the stored pixels must be turned 90 deg clockwise to display.
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[Image.ExifTags.Base.Orientation] = 6
    _quadrants(64, 32).save(path, exif=exif, quality=95)
    img = load_image(path)
    assert img.size == (32, 64)
    # Stored left (red) half becomes the top half once rotated clockwise.
    assert _near(img.getpixel((16, 8)), (255, 0, 0))
    assert _near(img.getpixel((16, 56)), (0, 0, 255))


def test_exif_orientation_matches_hub_image_decoder(tmp_path):
    datasets = pytest.importorskip("datasets")
    path = tmp_path / "phone.jpg"
    exif = Image.Exif()
    exif[Image.ExifTags.Base.Orientation] = 6
    _quadrants(64, 32).save(path, exif=exif, quality=95)
    hub = datasets.Image().decode_example({"path": None, "bytes": path.read_bytes()})
    assert list(load_image(path).getdata()) == list(hub.convert("RGB").getdata())


def test_palette_with_transparency_keeps_palette_colours(tmp_path):
    path = tmp_path / "p.png"
    img = Image.new("P", (30, 30), 1)
    img.putpalette([0, 0, 0, 10, 200, 30] + [0] * 762)
    img.paste(0, (0, 0, 10, 30))
    img.save(path, transparency=0)  # palette entry 0 is fully transparent
    rgb = load_image(path)
    assert rgb.mode == "RGB"
    # Alpha dropped, stored colour kept (the release's convert("RGB")).
    assert rgb.getpixel((5, 5)) == (0, 0, 0)
    assert rgb.getpixel((20, 5)) == (10, 200, 30)


def test_cmyk_jpeg_becomes_the_rgb_a_viewer_shows(tmp_path):
    path = tmp_path / "c.jpg"
    Image.new("CMYK", (40, 40), (0, 255, 255, 0)).save(path, quality=95)  # pure red in print
    assert Image.open(path).mode == "CMYK"
    assert _near(load_image(path).getpixel((20, 20)), (255, 0, 0))


def test_sixteen_bit_greyscale_keeps_its_top_byte(tmp_path):
    path = tmp_path / "g16.png"
    # 0x8000 is mid-grey in 16 bits; PIL's direct convert would clip it to 255.
    Image.fromarray(np.full((30, 30), 0x8000, dtype=np.uint16)).save(path)
    assert Image.open(path).mode == "I;16"
    assert load_image(path).getpixel((3, 3)) == (128, 128, 128)


def test_float_image_is_refused_with_its_file(tmp_path):
    path = tmp_path / "f.tif"
    Image.fromarray(np.full((30, 30), 0.5, dtype=np.float32)).save(path)
    with pytest.raises(ImageError, match="f.tif.*mode F"):
        load_image(path)


def test_greyscale_with_alpha_drops_alpha(tmp_path):
    path = tmp_path / "la.png"
    Image.new("LA", (30, 30), (90, 0)).save(path)  # fully transparent grey 90
    assert Image.open(path).mode == "LA"
    assert load_image(path).getpixel((3, 3)) == (90, 90, 90)


@pytest.mark.parametrize(
    ("size", "ok"),
    [
        ((20, 6000), False),  # 28 x 6000 after upsizing: ratio 214.3
        ((6000, 20), False),
        ((28, 5600), True),  # exactly 200: the processor accepts it
        ((28, 5628), False),  # 201
        ((10, 5000), True),  # 500 as stored, 178.6 once the short side is upsized to 28
    ],
)
def test_extreme_aspect_ratio_is_refused_at_check_time(tmp_path, size, ok):
    path = tmp_path / "strip.png"
    Image.new("L", size, 7).save(path)
    for decode in (True, False):
        problem = check_image(path, decode=decode)
        assert (problem is None) == ok, problem
    if ok:
        assert max(load_image(path).size) / min(load_image(path).size) <= 200
    else:
        assert "strip.png" in problem and "aspect ratio" in problem
        with pytest.raises(ImageError, match="strip.png.*aspect ratio"):
            load_image(path)


def test_aspect_limit_is_the_qwen_processors(tmp_path):
    smart_resize = pytest.importorskip(
        "transformers.models.qwen2_vl.image_processing_qwen2_vl"
    ).smart_resize
    for h, w in [(28, 5600), (28, 5628), (28, 5601)]:
        try:
            smart_resize(h, w)
            refused = False
        except ValueError:
            refused = True
        assert refused == (aspect_problem((w, h)) is not None)


def test_half_a_jpeg_fails_the_check(tmp_path):
    path = tmp_path / "cut.jpg"
    Image.effect_noise((256, 256), 60).convert("RGB").save(path, quality=90)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    # The header is intact, so only a full decode notices.
    assert check_image(path, decode=False) is None
    assert "truncated" in check_image(path)
    with pytest.raises(ImageError, match="cut.jpg"):
        load_image(path)


def test_truncated_file_fails_even_if_another_library_allows_it(tmp_path, monkeypatch):
    path = tmp_path / "cut.jpg"
    Image.effect_noise((256, 256), 60).convert("RGB").save(path, quality=90)
    path.write_bytes(path.read_bytes()[:3000])
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    assert "truncated" in check_image(path)
    assert ImageFile.LOAD_TRUNCATED_IMAGES is True
