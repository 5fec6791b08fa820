"""MMEB-train and MMEB-eval in their published layout: readers, fetch helpers and writers.

MMEB-train repo (mmeb-facts §2.2)::

    <Subset>/<split>-00000-of-00001.parquet   qry, qry_image_path, pos_text, pos_image_path
                                              [, neg_text, neg_image_path]   (all str, "" = none)
    images_zip/<Subset>.zip                   members <Subset>/Train/<file>

The zip's members are relative to an ``images/`` folder: extracting ``<Subset>.zip`` into
``<root>/images/`` makes a row's ``qry_image_path`` (``images/<Subset>/Train/x.jpg``) resolve
against ``<root>``. Members that already start with ``images/`` are accepted too.

MMEB-eval repo (§2.3)::

    <Task>/test-00000-of-00001.parquet        qry_text, qry_img_path (str),
                                              tgt_text, tgt_img_path (list[str]; [0] = truth)
    images.zip                                members <Task>/<file>

Eval image paths (``<Task>/image_0.jpg``) are relative to the folder ``images.zip`` is
extracted into; a fetched task keeps it as ``<out>/eval_images/``.

A *fetched* subset/task directory has the repo layout with the images extracted, so the
readers take the same arguments for a fetched directory and for a mirror with extracted images.

Bad rows (wrong type, missing column, image token without image, missing/unreadable image,
empty or mismatched candidate lists) raise ``DataError`` naming file, row and column, or with
``on_bad_row="skip"`` are left out and listed with their reason in ``Loaded.skipped``.
"""

from __future__ import annotations

import logging
import os
import shutil
import zipfile
from collections import Counter
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

import pyarrow as pa
import pyarrow.parquet as pq

from rge.data.images import check_image
from rge.data.records import IMAGE_TOKEN, EvalRow, Item, TrainPair
from rge.io import read_jsonl, write_jsonl

log = logging.getLogger(__name__)

TRAIN_COLUMNS: tuple[str, ...] = ("qry", "qry_image_path", "pos_text", "pos_image_path")
TRAIN_NEG_COLUMNS: tuple[str, ...] = ("neg_text", "neg_image_path")
EVAL_COLUMNS: tuple[str, ...] = ("qry_text", "qry_img_path", "tgt_text", "tgt_img_path")
EVAL_IMAGE_DIR = "eval_images"  # where a fetched eval task keeps its images (VLM2Vec's name)
TRAIN_SPLIT = "original"
EVAL_SPLIT = "test"
BAD_ROW_MODES = ("raise", "skip")

T = TypeVar("T")


class DataError(ValueError):
    """Malformed dataset input; the message names the file and, where known, row and column."""

    def __init__(self, file: str | os.PathLike, row: int | None, column: str | None, reason: str):
        self.file, self.row, self.column, self.reason = str(file), row, column, reason
        where = str(file)
        if row is not None:
            where += f": row {row}"
        if column is not None:
            where += f", column {column!r}" if row is not None else f": column {column!r}"
        super().__init__(f"{where}: {reason}")


@dataclass(frozen=True)
class BadRow:
    """A row left out in ``on_bad_row="skip"`` mode, and why."""

    file: str
    row: int
    column: str
    reason: str


@dataclass
class Loaded(Generic[T]):
    """Records read from one subset/task, with the rows that were skipped."""

    records: list[T]
    skipped: list[BadRow] = field(default_factory=list)
    n_rows: int = 0
    files: list[str] = field(default_factory=list)

    def report(self) -> dict[str, Any]:
        """A JSON-able summary: rows read/kept/skipped, counts per column, one entry per bad row."""
        return {
            "files": self.files,
            "rows_read": self.n_rows,
            "kept": len(self.records),
            "skipped": len(self.skipped),
            "skipped_by_column": dict(sorted(Counter(b.column for b in self.skipped).items())),
            "skipped_rows": [asdict(b) for b in self.skipped],
        }


class _RowError(Exception):
    def __init__(self, column: str, reason: str):
        super().__init__(reason)
        self.column, self.reason = column, reason


# ----------------------------------------------------------------------------- repo patterns


def train_patterns(subset: str, split: str = TRAIN_SPLIT) -> list[str]:
    """Files of one MMEB-train subset (for ``resolve_repo(allow_patterns=...)``)."""
    return [f"{subset}/{split}-*.parquet", f"images_zip/{subset}.zip"]


def eval_patterns(task: str) -> list[str]:
    """Files of one MMEB-eval task; ``images.zip`` is shared by all tasks."""
    return [f"{task}/{EVAL_SPLIT}-*.parquet", "images.zip"]


def parquet_files(root: str | os.PathLike, name: str, split: str) -> list[Path]:
    """The ``<name>/<split>-*.parquet`` shards under ``root``, in order; raise if none."""
    folder = Path(root) / name
    files = sorted(folder.glob(f"{split}-*.parquet"))
    if not files:
        raise DataError(folder, None, None, f"no {split}-*.parquet file in this subset folder")
    return files


# ----------------------------------------------------------------------------- readers


def load_train_pairs(
    root: str | os.PathLike,
    subset: str,
    *,
    split: str = TRAIN_SPLIT,
    image_root: str | os.PathLike | None = None,
    on_bad_row: str = "raise",
    check_images: bool = True,
) -> Loaded[TrainPair]:
    """Read one MMEB-train subset as ``TrainPair`` records with absolute image paths.

    Args:
        root: a directory with the repo layout (``<subset>/<split>-*.parquet``).
        subset: subset folder name, e.g. ``"ImageNet_1K"``.
        split: parquet file prefix (``original`` or ``diverse_instruction``).
        image_root: folder the rows' ``images/...`` paths are relative to (default ``root``).
        on_bad_row: ``"raise"`` (DataError on the first bad row) or ``"skip"``.
        check_images: open every image header (True) or only check that it exists (False).

    Returns:
        ``Loaded`` with the pairs (key ``<subset>/<row>``, rows counted across shards).
    """
    files = parquet_files(root, subset, split)
    base = Path(image_root) if image_root is not None else Path(root)
    check = _image_checker(check_images)

    def make(row: dict, index: int) -> TrainPair:
        query = _item(row, "qry", "qry_image_path", base, check)
        pos = _item(row, "pos_text", "pos_image_path", base, check)
        negs: tuple[Item, ...] = ()
        if "neg_text" in row and (row["neg_text"] or row.get("neg_image_path")):
            negs = (_item(row, "neg_text", "neg_image_path", base, check),)
        return TrainPair(key=f"{subset}/{index}", subset=subset, query=query, pos=pos, negs=negs)

    return _load(files, TRAIN_COLUMNS, make, on_bad_row)


def load_eval_rows(
    root: str | os.PathLike,
    task: str,
    *,
    image_root: str | os.PathLike | None = None,
    on_bad_row: str = "raise",
    check_images: bool = True,
) -> Loaded[EvalRow]:
    """Read one MMEB-eval task as ``EvalRow`` records (candidate 0 = ground truth).

    Args:
        root: a directory with ``<task>/test-*.parquet``.
        task: task folder name, e.g. ``"OK-VQA"``.
        image_root: folder ``images.zip`` was extracted into (default ``root/eval_images``).
        on_bad_row: ``"raise"`` or ``"skip"``.
        check_images: open every image header (True) or only check that it exists (False).

    Returns:
        ``Loaded`` with the rows (key ``<task>/<row>``).
    """
    files = parquet_files(root, task, EVAL_SPLIT)
    base = Path(image_root) if image_root is not None else Path(root) / EVAL_IMAGE_DIR
    check = _image_checker(check_images)

    def make(row: dict, index: int) -> EvalRow:
        query = _item(row, "qry_text", "qry_img_path", base, check)
        texts, images = _str_list(row, "tgt_text"), _str_list(row, "tgt_img_path")
        if not texts:
            raise _RowError("tgt_text", "empty candidate list")
        if len(texts) != len(images):
            raise _RowError("tgt_img_path", f"{len(images)} image paths for {len(texts)} texts")
        cands = tuple(
            _make_item(t, p, f"tgt_text[{j}]", f"tgt_img_path[{j}]", base, check)
            for j, (t, p) in enumerate(zip(texts, images, strict=True))
        )
        return EvalRow(key=f"{task}/{index}", task=task, query=query, candidates=cands)

    return _load(files, EVAL_COLUMNS, make, on_bad_row)


def _load(
    files: list[Path], columns: tuple[str, ...], make: Callable[[dict, int], T], on_bad_row: str
) -> Loaded[T]:
    if on_bad_row not in BAD_ROW_MODES:
        raise ValueError(f"on_bad_row must be one of {BAD_ROW_MODES}, got {on_bad_row!r}")
    out: Loaded[T] = Loaded(records=[], files=[str(f) for f in files])
    for file in files:
        table = pq.read_table(file)
        for col in columns:
            if col not in table.column_names:
                raise DataError(file, None, col, f"column missing (have {table.column_names})")
        for i, row in enumerate(table.to_pylist()):
            try:
                out.records.append(make(row, out.n_rows))
            except _RowError as err:
                if on_bad_row == "raise":
                    raise DataError(file, i, err.column, err.reason) from None
                out.skipped.append(BadRow(str(file), i, err.column, err.reason))
            out.n_rows += 1
    if out.skipped:
        log.warning("skipped %d of %d rows in %s", len(out.skipped), out.n_rows, out.files)
    return out


def _image_checker(full: bool) -> Callable[[Path], str | None]:
    cache: dict[Path, str | None] = {}

    def check(path: Path) -> str | None:
        if path not in cache:
            if full:
                cache[path] = check_image(path)
            else:
                cache[path] = None if path.is_file() else f"image file not found: {path}"
        return cache[path]

    return check


def _str(row: dict, column: str, optional: bool = False) -> str:
    value = row[column]
    if value is None and optional:
        return ""
    if not isinstance(value, str):
        raise _RowError(column, f"expected a string, got {type(value).__name__} ({value!r:.60})")
    return value


def _str_list(row: dict, column: str) -> list[str]:
    value = row[column]
    if not isinstance(value, list | tuple):
        raise _RowError(column, f"expected a list of strings, got {type(value).__name__}")
    for j, v in enumerate(value):
        if not isinstance(v, str):
            raise _RowError(f"{column}[{j}]", f"expected a string, got {type(v).__name__}")
    return list(value)


def _item(row: dict, text_col: str, image_col: str, base: Path, check: Callable) -> Item:
    optional = text_col.startswith("neg_")  # hard negatives may be null where a row has none
    text = _str(row, text_col, optional)
    image = _str(row, image_col, optional)
    return _make_item(text, image, text_col, image_col, base, check)


def _make_item(
    text: str, image: str, text_col: str, image_col: str, base: Path, check: Callable
) -> Item:
    if IMAGE_TOKEN in text and not image:
        raise _RowError(image_col, f"text contains {IMAGE_TOKEN} but the image path is empty")
    if not text and not image:
        raise _RowError(text_col, "neither text nor image")
    if not image:
        return Item(text=text)
    path = Path(os.path.abspath(base / image))
    reason = check(path)
    if reason is not None:
        raise _RowError(image_col, reason)
    return Item(text=text, image=str(path))


# ----------------------------------------------------------------------------- fetch helpers


def fetch_train_subset(
    repo: str | os.PathLike, subset: str, out: str | os.PathLike, split: str = TRAIN_SPLIT
) -> dict[str, Any]:
    """Copy one subset's parquet and extract its image zip into ``out`` (repo layout).

    Returns:
        ``{"parquet": [names], "images": count}``.
    """
    repo, out = Path(repo), Path(out)
    files = _copy_parquet(parquet_files(repo, subset, split), out / subset)
    zip_path = repo / "images_zip" / f"{subset}.zip"
    n = extract_zip_folder(zip_path, subset, out / "images")
    return {"parquet": files, "images": n}


def fetch_eval_task(repo: str | os.PathLike, task: str, out: str | os.PathLike) -> dict[str, Any]:
    """Copy one task's parquet and extract only its members of ``images.zip`` into ``out``."""
    repo, out = Path(repo), Path(out)
    files = _copy_parquet(parquet_files(repo, task, EVAL_SPLIT), out / task)
    n = extract_zip_folder(repo / "images.zip", task, out / EVAL_IMAGE_DIR)
    return {"parquet": files, "images": n}


def _copy_parquet(files: list[Path], dest: Path) -> list[str]:
    dest.mkdir(parents=True, exist_ok=True)
    for f in files:
        shutil.copyfile(f, dest / f.name)
    return [f.name for f in files]


def extract_zip_folder(zip_path: str | os.PathLike, folder: str, dest: str | os.PathLike) -> int:
    """Extract the members under ``<folder>/`` (or ``images/<folder>/``) of a zip into ``dest``.

    Members keep their path below the optional ``images/`` prefix, so ``<folder>/Train/x.jpg``
    lands at ``dest/<folder>/Train/x.jpg``.

    Returns:
        The number of files extracted.

    Raises:
        FileNotFoundError: no zip. DataError: no member under the folder, or a member whose
        path would leave ``dest``.
    """
    zip_path, dest = Path(zip_path), Path(dest)
    if not zip_path.is_file():
        raise FileNotFoundError(f"image archive {zip_path} not found")
    root = os.path.abspath(dest)
    n = 0
    with zipfile.ZipFile(zip_path) as zf:
        for info in zf.infolist():
            name = info.filename.removeprefix("images/")
            if info.is_dir() or not name.startswith(f"{folder}/"):
                continue
            target = os.path.abspath(os.path.join(root, name))
            if not target.startswith(root + os.sep):
                raise DataError(zip_path, None, None, f"member {info.filename!r} leaves {dest}")
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with zf.open(info) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            n += 1
    if n == 0:
        raise DataError(zip_path, None, None, f"no member under {folder + '/'!r}")
    return n


# ----------------------------------------------------------------------------- writers


def write_train_parquet(path: str | os.PathLike, rows: list[dict], with_negs: bool) -> None:
    """Write MMEB-train rows (dicts of str) with the published all-string schema."""
    cols = TRAIN_COLUMNS + (TRAIN_NEG_COLUMNS if with_negs else ())
    schema = pa.schema([(c, pa.string()) for c in cols])
    _write_table(path, pa.Table.from_pylist([{c: r[c] for c in cols} for r in rows], schema))


def write_eval_parquet(path: str | os.PathLike, rows: list[dict]) -> None:
    """Write MMEB-eval rows with the published schema (candidate lists as list<string>)."""
    schema = pa.schema(
        [
            ("qry_text", pa.string()),
            ("qry_img_path", pa.string()),
            ("tgt_text", pa.list_(pa.string())),
            ("tgt_img_path", pa.list_(pa.string())),
        ]
    )
    _write_table(
        path, pa.Table.from_pylist([{c: r[c] for c in EVAL_COLUMNS} for r in rows], schema)
    )


def _write_table(path: str | os.PathLike, table: pa.Table) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def write_readme(repo: str | os.PathLike, configs: dict[str, str]) -> None:
    """Write a hub-style README declaring one config per subset/task (``name -> split``).

    With it, ``datasets.load_dataset(<repo dir>, <name>, split=<split>)`` reads a mirror as it
    reads the hub repo.
    """
    lines = ["---", "configs:"]
    for name, split in configs.items():
        lines += [
            f"- config_name: {name}",
            "  data_files:",
            f"  - split: {split}",
            f"    path: {name}/{split}-*",
        ]
    Path(repo).mkdir(parents=True, exist_ok=True)
    (Path(repo) / "README.md").write_text("\n".join(lines + ["---", ""]))


def write_zip(path: str | os.PathLike, members: dict[str, bytes]) -> None:
    """Write a zip with reproducible bytes: sorted names, fixed timestamps, stored entries."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(members):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            zf.writestr(info, members[name])


# ----------------------------------------------------------------------------- records JSONL


def write_train_records(path: str | os.PathLike, pairs: list[TrainPair]) -> None:
    """Write TrainPairs as JSONL, image paths relative to the JSONL file's folder.

    Relative paths keep the file valid when the whole data tree is moved or checked out
    elsewhere (DVC); ``read_train_records`` makes them absolute again.
    """
    base = os.path.abspath(Path(path).parent)

    def item(it: Item) -> dict:
        image = Path(os.path.relpath(it.image, base)).as_posix() if it.image else None
        return {"text": it.text, "image": image}

    rows = [
        {
            "key": p.key,
            "subset": p.subset,
            "query": item(p.query),
            "pos": item(p.pos),
            "negs": [item(n) for n in p.negs],
        }
        for p in pairs
    ]
    write_jsonl(path, rows)


def read_train_records(path: str | os.PathLike) -> list[TrainPair]:
    """Read a ``prepare_train`` JSONL back as TrainPairs with absolute image paths.

    Raises:
        ValueError: a line lacks a field; the message names file and line.
    """
    base = Path(os.path.abspath(Path(path).parent))

    def item(d: dict) -> Item:
        image = d.get("image")
        return Item(text=d["text"], image=os.path.abspath(base / image) if image else None)

    pairs = []
    for lineno, row in enumerate(read_jsonl(path), 1):
        try:
            negs = tuple(item(n) for n in row.get("negs", []))
            pairs.append(
                TrainPair(row["key"], row["subset"], item(row["query"]), item(row["pos"]), negs)
            )
        except (KeyError, TypeError) as err:
            raise ValueError(f"{path}: record {lineno}: missing or malformed field {err}") from err
    return pairs
