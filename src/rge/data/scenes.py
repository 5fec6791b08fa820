"""Synthetic scenes: two objects (left, right), each a colour and a shape, on a plain background.

A scene is a plain dict (JSON-serialisable, stored in the benchmark's metadata sidecar)::

    {"left":  {"color": "red",  "shape": "circle", "dx": 3, "dy": -2, "size": 30},
     "right": {"color": "blue", "shape": "cross",  "dx": 0, "dy": 4,  "size": 26},
     "bg": 2}

``render_scene`` is a pure function of the scene, so the metadata alone reproduces every image.
The vocabulary is small on purpose: a 1 M-parameter backbone must be able to *see* it on a CPU
in a minute (ml-stack-facts, "Science at tiny scale").
"""

from __future__ import annotations

import random
import re

from PIL import Image, ImageDraw

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (220, 40, 40),
    "green": (40, 170, 60),
    "blue": (50, 80, 230),
    "yellow": (235, 215, 40),
    "purple": (140, 60, 190),
    "orange": (245, 140, 30),
    "cyan": (40, 205, 215),
    "pink": (245, 130, 190),
}
SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "cross")
BACKGROUNDS: tuple[tuple[int, int, int], ...] = ((30, 30, 30), (90, 90, 90), (200, 200, 200))
SIDES: tuple[str, ...] = ("left", "right")
ATTRIBUTES: tuple[str, ...] = ("left_color", "left_shape", "right_color", "right_shape")


def sample_object(rng: random.Random, exclude_color: str | None = None) -> dict:
    """Draw one object: colour (different from ``exclude_color``), shape and a small jitter."""
    colors = [c for c in COLORS if c != exclude_color]
    return {
        "color": rng.choice(colors),
        "shape": rng.choice(SHAPES),
        "dx": rng.randint(-4, 4),
        "dy": rng.randint(-10, 10),
        "size": rng.randint(24, 32),
    }


def sample_scene(rng: random.Random) -> dict:
    """Draw a scene whose two objects have different colours."""
    left = sample_object(rng)
    right = sample_object(rng, exclude_color=left["color"])
    return {"left": left, "right": right, "bg": rng.randrange(len(BACKGROUNDS))}


def _draw_object(draw: ImageDraw.ImageDraw, obj: dict, cx: float, cy: float, scale: float) -> None:
    r = obj["size"] * scale / 2
    fill = COLORS[obj["color"]]
    box = (cx - r, cy - r, cx + r, cy + r)
    shape = obj["shape"]
    if shape == "circle":
        draw.ellipse(box, fill=fill)
    elif shape == "square":
        draw.rectangle(box, fill=fill)
    elif shape == "triangle":
        draw.polygon([(cx, cy - r), (cx - r, cy + r), (cx + r, cy + r)], fill=fill)
    elif shape == "cross":
        w = r / 2.5
        draw.rectangle((cx - w, cy - r, cx + w, cy + r), fill=fill)
        draw.rectangle((cx - r, cy - w, cx + r, cy + w), fill=fill)
    else:
        raise ValueError(f"unknown shape {shape!r}")


def render_scene(scene: dict, size: int = 112) -> Image.Image:
    """Render ``scene`` as an RGB image of ``size`` x ``size`` pixels (left object in the left half)."""
    scale = size / 112
    img = Image.new("RGB", (size, size), BACKGROUNDS[scene["bg"]])
    draw = ImageDraw.Draw(img)
    for side, x0 in (("left", 28), ("right", 84)):
        obj = scene[side]
        _draw_object(draw, obj, (x0 + obj["dx"]) * scale, (56 + obj["dy"]) * scale, scale)
    return img


def render_object(scene: dict, side: str, size: int = 56) -> Image.Image:
    """Render one object of ``scene`` alone, centred: the 'cropped region' of a grounding target."""
    img = Image.new("RGB", (size, size), BACKGROUNDS[scene["bg"]])
    _draw_object(ImageDraw.Draw(img), scene[side], size / 2, size / 2, size / 56 * 1.4)
    return img


def other_side(side: str) -> str:
    """'right' for 'left' and 'left' for 'right'."""
    return "right" if side == "left" else "left"


def with_article(label: str) -> str:
    """'a red circle', 'an orange cross'."""
    return ("an " if label[0] in "aeiou" else "a ") + label


def object_name(obj: dict) -> str:
    """'red circle'."""
    return f"{obj['color']} {obj['shape']}"


def describe_scene(scene: dict) -> str:
    """The canonical description the backbone is pretrained to write and the probe parses."""
    return f"left is {object_name(scene['left'])} , right is {object_name(scene['right'])} ."


_DESCRIPTION = re.compile(
    r"left is (?P<left_color>\w+) (?P<left_shape>\w+) , right is (?P<right_color>\w+) (?P<right_shape>\w+)"
)


def parse_description(text: str) -> dict[str, str | None]:
    """Read the four attributes back from a generated description (None where unreadable)."""
    m = _DESCRIPTION.search(text)
    if m is None:
        return dict.fromkeys(ATTRIBUTES)
    return {a: m.group(a) for a in ATTRIBUTES}


def scene_attributes(scene: dict) -> dict[str, str]:
    """The four attributes of ``scene`` in the probe's naming."""
    return {f"{side}_{attr}": scene[side][attr] for side in SIDES for attr in ("color", "shape")}
