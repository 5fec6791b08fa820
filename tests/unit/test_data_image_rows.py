"""Images the models cannot use are named with their file and row when a dataset is loaded."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from rge.data.mmeb import DataError, load_eval_rows, load_train_pairs
from tests.fixtures.mirror_fixture import TOKEN, image_bytes, write_raw_eval, write_raw_train


def _half_jpeg() -> bytes:
    buf = io.BytesIO()
    Image.effect_noise((256, 256), 60).convert("RGB").save(buf, format="JPEG", quality=90)
    return buf.getvalue()[: len(buf.getvalue()) // 2]


IMAGES = {
    "S/ok.png": image_bytes("RGB", (40, 40)),
    "S/cut.jpg": _half_jpeg(),
    "S/strip.png": image_bytes("L", (20, 6000)),
}


def _row(image: str) -> dict:
    return {"qry": f"{TOKEN}\nq\n", "qry_image_path": f"images/{image}", "pos_text": "x",
            "pos_image_path": ""}  # fmt: skip


def test_truncated_and_extreme_images_are_skipped_with_file_and_row(tmp_path):
    rows = [_row("S/ok.png"), _row("S/cut.jpg"), _row("S/strip.png"), _row("S/ok.png")]
    root = write_raw_train(tmp_path, "S", rows, IMAGES)
    loaded = load_train_pairs(root, "S", on_bad_row="skip")
    assert [p.key for p in loaded.records] == ["S/0", "S/3"]
    bad = {b.row: b for b in loaded.skipped}
    assert sorted(bad) == [1, 2]
    assert "cut.jpg" in bad[1].reason and "truncated" in bad[1].reason
    assert "strip.png" in bad[2].reason and "aspect ratio 214.3" in bad[2].reason
    assert {b.column for b in loaded.skipped} == {"qry_image_path"}


@pytest.mark.parametrize(("row", "name"), [(1, "cut.jpg"), (2, "strip.png")])
def test_raise_mode_names_parquet_row_and_image(tmp_path, row, name):
    rows = [_row("S/ok.png"), _row("S/cut.jpg"), _row("S/strip.png")]
    root = write_raw_train(tmp_path, "S", [rows[0], rows[row]], IMAGES)
    with pytest.raises(DataError, match=rf"parquet: row 1, column 'qry_image_path'.*{name}"):
        load_train_pairs(root, "S")


def test_eval_candidate_image_is_named(tmp_path):
    row = {"qry_text": "q", "qry_img_path": "", "tgt_text": ["a", "b"],
           "tgt_img_path": ["S/ok.png", "S/strip.png"]}  # fmt: skip
    root = write_raw_eval(tmp_path, "T", [row], IMAGES)
    with pytest.raises(DataError, match=r"row 0, column 'tgt_img_path\[1\]'.*strip.png"):
        load_eval_rows(root, "T")
