"""A tiny MMEB-train + MMEB-eval mirror in the published hub layout, for the data-layer tests.

``build_mirror(root)`` writes

    root/MMEB-train/TinyCls/original-00000-of-00001.parquet    with neg_text / neg_image_path
    root/MMEB-train/TinyText/original-00000-of-00001.parquet   text-only queries and rows
    root/MMEB-train/images_zip/{TinyCls,TinyText}.zip          members <Subset>/Train/<file>
    root/MMEB-eval/{TinyVQA,TinyHateful,TinyT2I}/test-00000-of-00001.parquet
    root/MMEB-eval/images.zip                                  members <Task>/<file>

with images smaller than 28 px, greyscale, CMYK, RGBA and palette images, a 2-candidate task
and rows with and without hard negatives. ``write_raw_train`` / ``write_raw_eval`` write a
fetched-style directory from arbitrary (possibly malformed) rows for the bad-input tests.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from rge.data.mmeb import write_eval_parquet, write_train_parquet, write_zip

TOKEN = "<|image_1|>"


def image_bytes(mode: str, size: tuple[int, int], fmt: str = "PNG", seed: int = 0) -> bytes:
    """An image of the given mode/size with a little structure (not a flat colour)."""
    img = Image.new("RGB", size, (40 + 30 * seed % 200, 90, 160))
    img.putpixel((0, 0), (255, 255, 255))
    if mode != "RGB":
        img = img.convert(mode)
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()


TRAIN_IMAGES: dict[str, bytes] = {
    "TinyCls/Train/small.png": image_bytes("RGB", (20, 10)),
    "TinyCls/Train/gray.png": image_bytes("L", (40, 30)),
    "TinyCls/Train/cmyk.jpg": image_bytes("CMYK", (32, 32), "JPEG"),
    "TinyCls/Train/rgba.png": image_bytes("RGBA", (30, 30)),
    "TinyText/Train/cat.png": image_bytes("P", (36, 36)),
}
EVAL_IMAGES: dict[str, bytes] = {
    "TinyVQA/q0.png": image_bytes("RGB", (12, 40)),
    "TinyVQA/q1.jpg": image_bytes("CMYK", (30, 30), "JPEG"),
    "TinyHateful/m0.png": image_bytes("L", (28, 28)),
    "TinyT2I/a.png": image_bytes("RGB", (40, 40), seed=1),
    "TinyT2I/b.png": image_bytes("RGB", (40, 40), seed=2),
    "TinyT2I/c.png": image_bytes("RGB", (40, 40), seed=3),
}


def _cls_row(image: str, pos: str, neg: str) -> dict:
    return {
        "qry": f"{TOKEN}\nRepresent the given image for classification\n",
        "qry_image_path": f"images/TinyCls/Train/{image}",
        "pos_text": pos,
        "pos_image_path": "",
        "neg_text": neg,
        "neg_image_path": "",
    }


TRAIN_ROWS: dict[str, list[dict]] = {
    "TinyCls": [
        _cls_row("small.png", "cat", "dog"),
        _cls_row("gray.png", "dog", ""),
        _cls_row("cmyk.jpg", "bird", "cat"),
        _cls_row("rgba.png", "fish", ""),
    ],
    "TinyText": [
        {
            "qry": "Find me an everyday image that matches the given caption: a cat\n",
            "qry_image_path": "",
            "pos_text": f"{TOKEN}\nRepresent the given image.\n",
            "pos_image_path": "images/TinyText/Train/cat.png",
        },
        {
            "qry": "What is two plus two?\n",
            "qry_image_path": "",
            "pos_text": "four",
            "pos_image_path": "",
        },
    ],
}
EVAL_ROWS: dict[str, list[dict]] = {
    "TinyVQA": [
        {
            "qry_text": f"{TOKEN}\nWhat colour is it?\n",
            "qry_img_path": "TinyVQA/q0.png",
            "tgt_text": ["blue", "red", "green"],
            "tgt_img_path": ["", "", ""],
        },
        {
            "qry_text": f"{TOKEN}\nHow many?\n",
            "qry_img_path": "TinyVQA/q1.jpg",
            "tgt_text": ["one", "two", "three"],
            "tgt_img_path": ["", "", ""],
        },
    ],
    "TinyHateful": [
        {
            "qry_text": f"{TOKEN}\nIs this meme hateful?\n",
            "qry_img_path": "TinyHateful/m0.png",
            "tgt_text": ["No", "Yes"],
            "tgt_img_path": ["", ""],
        },
    ],
    "TinyT2I": [
        {
            "qry_text": "Find an image of a thing\n",
            "qry_img_path": "",
            "tgt_text": [f"{TOKEN}\nRepresent the given image.\n"] * 3,
            "tgt_img_path": ["TinyT2I/a.png", "TinyT2I/b.png", "TinyT2I/c.png"],
        },
    ],
}


@dataclass(frozen=True)
class Mirror:
    train: Path
    eval: Path


def build_mirror(root: Path) -> Mirror:
    """Write the tiny MMEB-train and MMEB-eval mirrors under ``root``."""
    train, evalr = root / "MMEB-train", root / "MMEB-eval"
    for subset, rows in TRAIN_ROWS.items():
        write_train_parquet(
            train / subset / "original-00000-of-00001.parquet",
            rows,
            with_negs="neg_text" in rows[0],
        )
        members = {k: v for k, v in TRAIN_IMAGES.items() if k.startswith(f"{subset}/")}
        write_zip(train / "images_zip" / f"{subset}.zip", members)
    for task, rows in EVAL_ROWS.items():
        write_eval_parquet(evalr / task / "test-00000-of-00001.parquet", rows)
    write_zip(evalr / "images.zip", EVAL_IMAGES)
    return Mirror(train, evalr)


def write_raw_train(root: Path, subset: str, rows: list[dict], images: dict[str, bytes]) -> Path:
    """A fetched-style train dir from raw rows (types inferred, so malformed rows survive)."""
    (root / subset).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), root / subset / "original-00000-of-00001.parquet")
    for rel, data in images.items():
        (root / "images" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "images" / rel).write_bytes(data)
    return root


def write_raw_eval(root: Path, task: str, rows: list[dict], images: dict[str, bytes]) -> Path:
    """A fetched-style eval dir (``<task>/test-*.parquet`` + ``eval_images/``) from raw rows."""
    (root / task).mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), root / task / "test-00000-of-00001.parquet")
    for rel, data in images.items():
        (root / "eval_images" / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / "eval_images" / rel).write_bytes(data)
    return root
