"""rge.data.retrieval on royokong-style repos: bytes kept, COCO truncated to 5, bad rows named."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from rge.data.mmeb import DataError
from rge.data.retrieval import fetch_retrieval, load_retrieval_set, write_retrieval_repo
from tests.fixtures.mirror_fixture import image_bytes

JPG = image_bytes("RGB", (40, 30), "JPEG")
PNG = image_bytes("L", (20, 20))


def caps(i: int, n: int) -> list[str]:
    return [f"image {i} caption {j}" for j in range(n)]


def test_fetch_keeps_bytes_and_truncates(tmp_path):
    repo = tmp_path / "coco_test"
    write_retrieval_repo(
        repo, [("a.jpg", JPG), ("b.png", PNG), ("c.jpg", JPG)], [caps(0, 5), caps(1, 7), caps(2, 6)]
    )
    manifest = fetch_retrieval(repo, tmp_path / "out", name="coco")
    assert manifest["images"] == ["images/00000.jpg", "images/00001.png", "images/00002.jpg"]
    assert (tmp_path / "out/images/00001.png").read_bytes() == PNG
    rs = load_retrieval_set(tmp_path / "out")
    assert rs.name == "coco" and len(rs.images) == 3
    assert rs.captions[5:10] == tuple(caps(1, 5))
    assert rs.caption_image == (0,) * 5 + (1,) * 5 + (2,) * 5
    assert all(p.startswith("/") for p in rs.images)


def test_several_shards_in_order(tmp_path):
    repo = tmp_path / "r"
    write_retrieval_repo(repo, [("a.png", PNG)], [caps(0, 5)])
    shard = repo / "data" / "test-00000-of-00001.parquet"
    second = repo / "data" / "test-00001-of-00002.parquet"
    t = pq.read_table(shard)
    pq.write_table(t.set_column(1, "text", pa.array([caps(9, 5)])), second)
    fetch_retrieval(repo, tmp_path / "o", name="r")
    rs = load_retrieval_set(tmp_path / "o")
    assert rs.captions[5] == "image 9 caption 0" and len(rs.images) == 2


def test_image_given_by_path_only(tmp_path):
    repo = tmp_path / "r"
    (repo / "data").mkdir(parents=True)
    (repo / "pics").mkdir()
    (repo / "pics" / "x.png").write_bytes(PNG)
    rows = [{"image": {"bytes": None, "path": "pics/x.png"}, "text": caps(0, 5)}]
    pq.write_table(pa.Table.from_pylist(rows), repo / "data" / "test-00000-of-00001.parquet")
    fetch_retrieval(repo, tmp_path / "o", name="r")
    assert (tmp_path / "o/images/00000.png").read_bytes() == PNG


@pytest.mark.parametrize(
    ("row", "column", "reason"),
    [
        ({"image": {"bytes": PNG, "path": "a"}, "text": caps(0, 4)}, "text", "4 captions, need 5"),
        ({"image": {"bytes": b"junk", "path": "a"}, "text": caps(0, 5)}, "image", "cannot decode"),
        ({"image": {"bytes": None, "path": "gone.png"}, "text": caps(0, 5)}, "image", "not found"),
        ({"image": {"bytes": PNG, "path": "a"}, "text": ["ok"] * 4 + [""]}, "text", "non-empty"),
    ],
)
def test_bad_rows_are_named(tmp_path, row, column, reason):
    repo = tmp_path / "r"
    (repo / "data").mkdir(parents=True)
    good = {"image": {"bytes": PNG, "path": "g"}, "text": caps(0, 5)}
    pq.write_table(pa.Table.from_pylist([good, row]), repo / "data" / "test-00000-of-00001.parquet")
    with pytest.raises(
        DataError, match=rf"test-00000-of-00001.parquet: row 1, column '{column}'.*{reason}"
    ):
        fetch_retrieval(repo, tmp_path / "o", name="r")


def test_missing_column_and_missing_shards(tmp_path):
    repo = tmp_path / "r"
    (repo / "data").mkdir(parents=True)
    with pytest.raises(DataError, match="no test-"):
        fetch_retrieval(repo, tmp_path / "o", name="r")
    pq.write_table(
        pa.Table.from_pylist([{"img": 1, "text": ["a"]}]), repo / "data" / "test-0.parquet"
    )
    with pytest.raises(DataError, match="column 'image'"):
        fetch_retrieval(repo, tmp_path / "o", name="r")


def test_load_detects_missing_image(tmp_path):
    repo = tmp_path / "r"
    write_retrieval_repo(repo, [("a.png", PNG)], [caps(0, 5)])
    fetch_retrieval(repo, tmp_path / "o", name="r")
    (tmp_path / "o/images/00000.png").unlink()
    with pytest.raises(FileNotFoundError, match="00000.png"):
        load_retrieval_set(tmp_path / "o")
