"""Flickr30K and COCO-5K retrieval sets in the ``royokong/*_test`` hub layout.

Repo layout (``royokong/flickr30k_test``, ``royokong/coco_test``; read from their dataset cards)::

    data/test-0000i-of-0000N.parquet   image: HF Image feature (struct{bytes: binary, path: str})
                                       text:  list[str], the image's captions
    README.md                          dataset_info (features, split "test")

``fetch_retrieval`` writes every image's bytes unchanged to ``<out>/images/<i>.<ext>`` and a
manifest ``<out>/retrieval.json`` with the captions image-major, truncated to
``captions_per_image`` (COCO has images with more than 5), so caption j belongs to image
j // captions_per_image. ``load_retrieval_set`` reads the manifest back as a ``RetrievalSet``.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image, UnidentifiedImageError

from rge.data.mmeb import DataError
from rge.data.records import RetrievalSet
from rge.io import read_json, write_json

CAPTIONS_PER_IMAGE = 5
MANIFEST = "retrieval.json"
SPLIT = "test"
_EXT = {"JPEG": ".jpg", "PNG": ".png", "WEBP": ".webp", "GIF": ".gif", "BMP": ".bmp"}
_HF_FEATURES = {
    "image": {"_type": "Image"},
    "text": {"_type": "Sequence", "feature": {"_type": "Value", "dtype": "string"}},
}


def retrieval_patterns(split: str = SPLIT) -> list[str]:
    """Files of a retrieval repo (for ``resolve_repo(allow_patterns=...)``)."""
    return [f"data/{split}-*.parquet"]


def fetch_retrieval(
    repo: str | os.PathLike,
    out: str | os.PathLike,
    *,
    name: str,
    split: str = SPLIT,
    captions_per_image: int = CAPTIONS_PER_IMAGE,
) -> dict[str, Any]:
    """Write a repo's images to files and its captions to ``out/retrieval.json``.

    Args:
        repo: directory with the hub layout.
        out: output directory (created).
        name: set name stored in the manifest (e.g. ``"flickr30k"``).
        split: parquet file prefix.
        captions_per_image: keep this many captions per image; an image with fewer raises.

    Returns:
        The manifest written (relative image paths).
    """
    repo, out = Path(repo), Path(out)
    files = sorted((repo / "data").glob(f"{split}-*.parquet"))
    if not files:
        raise DataError(repo / "data", None, None, f"no {split}-*.parquet file")
    (out / "images").mkdir(parents=True, exist_ok=True)
    images: list[str] = []
    captions: list[str] = []
    for file in files:
        for r, row in enumerate(_rows(file)):
            data = _image_bytes(row["image"], repo, file, r)
            rel = f"images/{len(images):05d}{_extension(data, file, r)}"
            (out / rel).write_bytes(data)
            images.append(rel)
            captions.extend(_captions(row["text"], captions_per_image, file, r))
    manifest = {
        "name": name,
        "captions_per_image": captions_per_image,
        "images": images,
        "captions": captions,
        "caption_image": [j // captions_per_image for j in range(len(captions))],
        "source_files": [f.name for f in files],
    }
    write_json(out / MANIFEST, manifest)
    return manifest


def load_retrieval_set(fetched: str | os.PathLike) -> RetrievalSet:
    """Read a fetched set (``retrieval.json`` + images) with absolute image paths."""
    fetched = Path(fetched)
    m = read_json(fetched / MANIFEST)
    images = tuple(os.path.abspath(fetched / p) for p in m["images"])
    for path in images:
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{fetched / MANIFEST}: image {path} not found")
    caption_image = tuple(m["caption_image"])
    if len(caption_image) != len(m["captions"]) or max(caption_image, default=-1) >= len(images):
        raise DataError(fetched / MANIFEST, None, "caption_image", "inconsistent with images")
    return RetrievalSet(m["name"], images, tuple(m["captions"]), caption_image)


def _rows(file: Path):
    pf = pq.ParquetFile(file)
    names = pf.schema_arrow.names
    for col in ("image", "text"):
        if col not in names:
            raise DataError(file, None, col, f"column missing (have {names})")
    # Stream in batches: COCO's parquet shards are ~500 MB of image bytes each.
    for batch in pf.iter_batches(batch_size=64, columns=["image", "text"]):
        yield from batch.to_pylist()


def _image_bytes(value: Any, repo: Path, file: Path, row: int) -> bytes:
    if isinstance(value, dict) and value.get("bytes"):
        return value["bytes"]
    if isinstance(value, dict) and value.get("path"):
        # An Image feature may store only a path (relative to the repo) instead of bytes.
        path = repo / value["path"]
        if path.is_file():
            return path.read_bytes()
        raise DataError(file, row, "image", f"no bytes and {path} not found")
    raise DataError(file, row, "image", f"expected an Image struct with bytes, got {value!r:.60}")


def _extension(data: bytes, file: Path, row: int) -> str:
    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt = img.format or ""
            img.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as err:
        raise DataError(file, row, "image", f"cannot decode image bytes ({err})") from err
    return _EXT.get(fmt, f".{fmt.lower() or 'img'}")


def _captions(value: Any, k: int, file: Path, row: int) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(c, str) and c for c in value):
        raise DataError(
            file, row, "text", f"expected a list of non-empty strings, got {value!r:.80}"
        )
    if len(value) < k:
        raise DataError(file, row, "text", f"{len(value)} captions, need {k}")
    return value[:k]


def write_retrieval_repo(
    repo: str | os.PathLike, images: list[tuple[str, bytes]], texts: list[list[str]]
) -> None:
    """Write a retrieval repo in the royokong layout (one shard + README with dataset_info).

    Args:
        repo: repo directory to write into.
        images: (file name, encoded bytes) per image, stored in the Image struct.
        texts: the captions of each image.
    """
    repo = Path(repo)
    if len(images) != len(texts):
        raise ValueError(f"{len(images)} images but {len(texts)} caption lists")
    image_type = pa.struct([("bytes", pa.binary()), ("path", pa.string())])
    meta = {b"huggingface": json.dumps({"info": {"features": _HF_FEATURES}}).encode()}
    schema = pa.schema([("image", image_type), ("text", pa.list_(pa.string()))], metadata=meta)
    rows = [
        {"image": {"bytes": b, "path": n}, "text": t}
        for (n, b), t in zip(images, texts, strict=True)
    ]
    shard = repo / "data" / "test-00000-of-00001.parquet"
    shard.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows, schema), shard)
    readme = (
        "---\ndataset_info:\n  features:\n  - name: image\n    dtype: image\n  - name: text\n"
        f"    sequence: string\n  splits:\n  - name: test\n    num_bytes: {shard.stat().st_size}\n"
        f"    num_examples: {len(images)}\n"
        "configs:\n- config_name: default\n  data_files:\n  - split: test\n    path: data/test-*\n---\n"
    )
    (repo / "README.md").write_text(readme)
