"""rge.data.mmeb on a tiny mirror in the published layout, and on every kind of bad input."""

from __future__ import annotations

import os
import zipfile

import pytest

from rge.data.images import load_image
from rge.data.mmeb import (
    DataError,
    extract_zip_folder,
    fetch_eval_task,
    fetch_train_subset,
    load_eval_rows,
    load_train_pairs,
    read_train_records,
    write_train_records,
    write_zip,
)
from rge.data.records import Item
from tests.fixtures.mirror_fixture import (
    EVAL_IMAGES,
    EVAL_ROWS,
    TOKEN,
    TRAIN_IMAGES,
    TRAIN_ROWS,
    build_mirror,
    image_bytes,
    write_raw_eval,
    write_raw_train,
)


@pytest.fixture
def mirror(tmp_path):
    return build_mirror(tmp_path / "mirror")


def _row(**over) -> dict:
    row = {
        "qry": f"{TOKEN}\nq\n",
        "qry_image_path": "images/S/Train/a.png",
        "pos_text": "cat",
        "pos_image_path": "",
    }
    row.update(over)
    return row


GOOD = {"S/Train/a.png": image_bytes("RGB", (30, 30))}


# ----------------------------------------------------------------------------- good data


def test_fetch_train_extracts_only_that_subset(mirror, tmp_path):
    out = tmp_path / "fetched"
    stats = fetch_train_subset(mirror.train, "TinyCls", out)
    assert stats == {"parquet": ["original-00000-of-00001.parquet"], "images": 4}
    extracted = sorted(
        p.relative_to(out / "images").as_posix() for p in (out / "images").rglob("*") if p.is_file()
    )
    assert extracted == sorted(k for k in TRAIN_IMAGES if k.startswith("TinyCls/"))


def test_train_pairs_from_fetched_subset(mirror, tmp_path):
    out = tmp_path / "fetched"
    fetch_train_subset(mirror.train, "TinyCls", out)
    loaded = load_train_pairs(out, "TinyCls")
    assert loaded.n_rows == 4 and not loaded.skipped
    pairs = loaded.records
    assert [p.key for p in pairs] == [f"TinyCls/{i}" for i in range(4)]
    assert pairs[0].query.image == os.path.abspath(out / "images/TinyCls/Train/small.png")
    assert pairs[0].pos == Item("cat")
    assert pairs[0].negs == (Item("dog"),)
    assert pairs[1].negs == ()  # neg_text "" = no hard negative
    assert pairs[2].negs == (Item("cat"),)
    # Small, greyscale, CMYK and RGBA files all load as RGB with sides >= 28.
    sizes = [load_image(p.query.image).size for p in pairs]
    assert sizes == [(28, 28), (40, 30), (32, 32), (30, 30)]
    assert all(load_image(p.query.image).mode == "RGB" for p in pairs)


def test_text_only_rows(mirror, tmp_path):
    out = tmp_path / "fetched"
    fetch_train_subset(mirror.train, "TinyText", out)
    pairs = load_train_pairs(out, "TinyText").records
    assert pairs[0].query == Item(TRAIN_ROWS["TinyText"][0]["qry"])
    assert pairs[0].pos.image.endswith("images/TinyText/Train/cat.png")
    assert pairs[1].query.image is None and pairs[1].pos == Item("four")


def test_fetch_eval_extracts_only_that_task(mirror, tmp_path):
    out = tmp_path / "ev"
    stats = fetch_eval_task(mirror.eval, "TinyVQA", out)
    assert stats["images"] == 2
    extracted = sorted(
        p.relative_to(out / "eval_images").as_posix()
        for p in (out / "eval_images").rglob("*")
        if p.is_file()
    )
    assert extracted == sorted(k for k in EVAL_IMAGES if k.startswith("TinyVQA/"))


@pytest.mark.parametrize("task", sorted(EVAL_ROWS))
def test_eval_rows(mirror, tmp_path, task):
    out = tmp_path / "ev"
    fetch_eval_task(mirror.eval, task, out)
    rows = load_eval_rows(out, task).records
    assert len(rows) == len(EVAL_ROWS[task])
    for row, raw in zip(rows, EVAL_ROWS[task], strict=True):
        assert [c.text for c in row.candidates] == raw["tgt_text"]
        want = [
            os.path.abspath(out / "eval_images" / p) if p else None for p in raw["tgt_img_path"]
        ]
        assert [c.image for c in row.candidates] == want
    assert rows[0].key == f"{task}/0"


def test_two_candidate_task(mirror, tmp_path):
    fetch_eval_task(mirror.eval, "TinyHateful", tmp_path / "ev")
    (row,) = load_eval_rows(tmp_path / "ev", "TinyHateful").records
    assert [c.text for c in row.candidates] == ["No", "Yes"]


def test_zip_with_images_prefix_and_slip(tmp_path):
    z = tmp_path / "a.zip"
    write_zip(z, {"images/S/Train/x.png": b"1", "S/Train/y.png": b"2", "T/z.png": b"3"})
    assert extract_zip_folder(z, "S", tmp_path / "out") == 2
    assert (tmp_path / "out/S/Train/x.png").read_bytes() == b"1"
    assert not (tmp_path / "out/T").exists()
    with pytest.raises(DataError, match="no member under 'Q/'"):
        extract_zip_folder(z, "Q", tmp_path / "out2")
    evil = tmp_path / "evil.zip"
    with zipfile.ZipFile(evil, "w") as zf:
        zf.writestr("S/../../escape.png", b"x")
    with pytest.raises(DataError, match="leaves"):
        extract_zip_folder(evil, "S", tmp_path / "out3")


def test_records_roundtrip_relative_paths(mirror, tmp_path):
    out = tmp_path / "data" / "fetched"
    fetch_train_subset(mirror.train, "TinyCls", out)
    pairs = load_train_pairs(out, "TinyCls").records
    path = tmp_path / "data" / "prepared" / "TinyCls.jsonl"
    write_train_records(path, pairs)
    assert "../fetched/images/TinyCls/Train/small.png" in path.read_text()
    assert read_train_records(path) == pairs
    # Moving the whole tree keeps the records valid.
    os.rename(tmp_path / "data", tmp_path / "moved")
    moved = read_train_records(tmp_path / "moved" / "prepared" / "TinyCls.jsonl")
    assert os.path.isfile(moved[0].query.image)


def test_records_malformed_line(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "S/0", "subset": "S", "query": {"text": "q"}}\n')
    with pytest.raises(ValueError, match="r.jsonl: record 1"):
        read_train_records(path)


# ----------------------------------------------------------------------------- bad input


BAD_TRAIN = [
    (
        "missing_image",
        _row(qry_image_path="images/S/Train/none.png"),
        "qry_image_path",
        "not found",
    ),
    (
        "unreadable_image",
        _row(qry_image_path="images/S/Train/bad.png"),
        "qry_image_path",
        "cannot read",
    ),
    ("wrong_type", _row(pos_text=7), "pos_text", "expected a string"),
    ("null", _row(qry=None), "qry", "expected a string"),
    ("token_without_image", _row(qry_image_path=""), "qry_image_path", "<|image_1|>"),
    ("empty_item", _row(pos_text=""), "pos_text", "neither text nor image"),
]


@pytest.mark.parametrize(
    ("name", "bad", "column", "reason"), BAD_TRAIN, ids=[b[0] for b in BAD_TRAIN]
)
def test_bad_train_row_raises_naming_file_row_column(tmp_path, name, bad, column, reason):
    images = {**GOOD, "S/Train/bad.png": b"garbage"}
    # A parquet column has one type, so the wrong-typed value must be in every row of it.
    rows = [_row(pos_text=3), bad] if name == "wrong_type" else [_row(), _row(), bad]
    bad_index = 0 if name == "wrong_type" else len(rows) - 1
    root = write_raw_train(tmp_path, "S", rows, images)
    with pytest.raises(DataError) as err:
        load_train_pairs(root, "S")
    msg = str(err.value)
    assert "S/original-00000-of-00001.parquet" in msg
    assert f"row {bad_index}" in msg and repr(column) in msg and reason in msg
    assert (err.value.row, err.value.column) == (bad_index, column)


def test_skip_mode_counts_and_reports(tmp_path):
    images = {**GOOD, "S/Train/bad.png": b"garbage"}
    rows = [
        _row(),
        _row(qry_image_path="images/S/Train/none.png"),
        _row(pos_text="dog"),
        _row(qry_image_path="images/S/Train/bad.png"),
        _row(qry_image_path=""),
    ]
    root = write_raw_train(tmp_path, "S", rows, images)
    loaded = load_train_pairs(root, "S", on_bad_row="skip")
    assert [p.key for p in loaded.records] == ["S/0", "S/2"]  # keys keep the parquet row index
    assert [b.row for b in loaded.skipped] == [1, 3, 4]
    report = loaded.report()
    assert (report["rows_read"], report["kept"], report["skipped"]) == (5, 2, 3)
    assert report["skipped_by_column"] == {"qry_image_path": 3}
    reasons = [r["reason"] for r in report["skipped_rows"]]
    assert "not found" in reasons[0] and "cannot read" in reasons[1] and TOKEN in reasons[2]


def test_missing_column_raises_in_both_modes(tmp_path):
    rows = [{k: v for k, v in _row().items() if k != "pos_image_path"}]
    root = write_raw_train(tmp_path, "S", rows, GOOD)
    for mode in ("raise", "skip"):
        with pytest.raises(
            DataError, match=r"original-00000-of-00001.parquet: column 'pos_image_path'"
        ):
            load_train_pairs(root, "S", on_bad_row=mode)


def test_subset_without_parquet(tmp_path):
    (tmp_path / "S").mkdir()
    with pytest.raises(DataError, match=r"S: no original-\*\.parquet"):
        load_train_pairs(tmp_path, "S")


def test_bad_mode(tmp_path):
    root = write_raw_train(tmp_path, "S", [_row()], GOOD)
    with pytest.raises(ValueError, match="on_bad_row"):
        load_train_pairs(root, "S", on_bad_row="ignore")


def test_check_images_false_only_checks_existence(tmp_path):
    images = {**GOOD, "S/Train/bad.png": b"garbage"}
    root = write_raw_train(tmp_path, "S", [_row(qry_image_path="images/S/Train/bad.png")], images)
    assert len(load_train_pairs(root, "S", check_images=False).records) == 1
    with pytest.raises(DataError, match="cannot read"):
        load_train_pairs(root, "S")


def _erow(**over) -> dict:
    row = {
        "qry_text": f"{TOKEN}\nq\n",
        "qry_img_path": "E/q.png",
        "tgt_text": ["a", "b"],
        "tgt_img_path": ["", ""],
    }
    row.update(over)
    return row


EGOOD = {"E/q.png": image_bytes("RGB", (30, 30))}
BAD_EVAL = [
    ("empty_candidates", _erow(tgt_text=[], tgt_img_path=[]), "tgt_text", "empty candidate list"),
    ("length_mismatch", _erow(tgt_img_path=[""]), "tgt_img_path", "1 image paths for 2 texts"),
    (
        "missing_candidate_image",
        _erow(tgt_img_path=["", "E/none.png"]),
        "tgt_img_path[1]",
        "not found",
    ),
    (
        "candidate_token_without_image",
        _erow(tgt_text=["a", f"{TOKEN}\nb"]),
        "tgt_img_path[1]",
        "<|image_1|>",
    ),
    ("query_image_missing", _erow(qry_img_path="E/none.png"), "qry_img_path", "not found"),
]


@pytest.mark.parametrize(
    ("name", "bad", "column", "reason"), BAD_EVAL, ids=[b[0] for b in BAD_EVAL]
)
def test_bad_eval_row(tmp_path, name, bad, column, reason):
    root = write_raw_eval(tmp_path, "E", [_erow(), bad], EGOOD)
    with pytest.raises(DataError) as err:
        load_eval_rows(root, "E")
    msg = str(err.value)
    assert "E/test-00000-of-00001.parquet: row 1" in msg and repr(column) in msg and reason in msg
    loaded = load_eval_rows(root, "E", on_bad_row="skip")
    assert [r.key for r in loaded.records] == ["E/0"]
    assert [(b.row, b.column) for b in loaded.skipped] == [(1, column)]


def test_eval_wrong_type_candidates(tmp_path):
    root = write_raw_eval(tmp_path, "E", [_erow(tgt_text="a", tgt_img_path="")], EGOOD)
    with pytest.raises(DataError, match="row 0, column 'tgt_text': expected a list"):
        load_eval_rows(root, "E")
