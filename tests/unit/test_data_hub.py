"""rge.data.hub: a mirror is used as is (checked), the hub branch calls snapshot_download."""

from __future__ import annotations

import huggingface_hub
import pytest

from rge.data.hub import resolve_repo
from rge.data.mmeb import eval_patterns, train_patterns


def test_mirror_is_returned_when_patterns_match(tmp_path):
    (tmp_path / "Sub").mkdir()
    (tmp_path / "Sub" / "original-00000-of-00001.parquet").write_bytes(b"x")
    (tmp_path / "images_zip").mkdir()
    (tmp_path / "images_zip" / "Sub.zip").write_bytes(b"x")
    got = resolve_repo(
        "TIGER-Lab/MMEB-train",
        revision="abc",
        mirror=str(tmp_path),
        allow_patterns=train_patterns("Sub"),
    )
    assert got == tmp_path


def test_mirror_missing_file_is_named(tmp_path):
    (tmp_path / "Sub").mkdir()
    (tmp_path / "Sub" / "original-00000-of-00001.parquet").write_bytes(b"x")
    with pytest.raises(FileNotFoundError, match=r"images_zip/Sub\.zip"):
        resolve_repo("r", mirror=tmp_path, allow_patterns=train_patterns("Sub"))


def test_missing_mirror_dir(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_repo("r", mirror=tmp_path / "absent")


@pytest.mark.parametrize("mirror", [None, ""])
def test_hub_branch_calls_snapshot_download(monkeypatch, tmp_path, mirror):
    calls = []

    def fake(repo_id, **kwargs):
        calls.append((repo_id, kwargs))
        return str(tmp_path)

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake)
    got = resolve_repo(
        "TIGER-Lab/MMEB-eval",
        revision="76dd0a4",
        mirror=mirror,
        allow_patterns=eval_patterns("OK-VQA"),
    )
    assert got == tmp_path
    assert len(calls) == 1
    repo_id, kwargs = calls[0]
    assert repo_id == "TIGER-Lab/MMEB-eval"
    assert kwargs["repo_type"] == "dataset"
    assert kwargs["revision"] == "76dd0a4"
    assert kwargs["allow_patterns"] == ["OK-VQA/test-*.parquet", "images.zip"]


def test_patterns():
    assert train_patterns("CIRR") == ["CIRR/original-*.parquet", "images_zip/CIRR.zip"]
    assert train_patterns("CIRR", "diverse_instruction")[0] == "CIRR/diverse_instruction-*.parquet"


def test_provenance_records_the_resolved_commit(tmp_path):
    from rge.data.hub import provenance

    sha = "0123456789abcdef0123456789abcdef01234567"
    local = tmp_path / "snapshots" / sha
    got = provenance("TIGER-Lab/MMEB-eval", "main", None, local)
    assert got == {
        "repo_id": "TIGER-Lab/MMEB-eval",
        "revision_requested": "main",
        "resolved_commit": sha,
        "mirror": None,
    }
    mirrored = provenance("TIGER-Lab/MMEB-eval", "main", str(tmp_path), tmp_path)
    assert mirrored["resolved_commit"] is None and mirrored["mirror"] == str(tmp_path)
