"""rge.io: atomic writes leave the user's umask on results and nothing behind on failure."""

from __future__ import annotations

import os
import stat

import pytest

from rge.io import atomic_dir, atomic_path, read_json, write_json, write_jsonl, write_text


@pytest.fixture(params=[0o022, 0o002, 0o077])
def umask(request):
    old = os.umask(request.param)
    yield request.param
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_files_get_the_umask_mode(tmp_path, umask):
    want = {0o022: 0o644, 0o002: 0o664, 0o077: 0o600}[umask]
    write_text(tmp_path / "a.txt", "x")
    write_json(tmp_path / "b.json", {"k": 1})
    write_jsonl(tmp_path / "c.jsonl", [{"k": 1}])
    with atomic_path(tmp_path / "d.bin", suffix=".bin") as tmp:
        tmp.write_bytes(b"\0")
    for name in ("a.txt", "b.json", "c.jsonl", "d.bin"):
        assert _mode(tmp_path / name) == want, name
    assert read_json(tmp_path / "b.json") == {"k": 1}


def test_replacing_a_0600_file_gives_the_umask_mode(tmp_path, umask):
    path = tmp_path / "old.json"
    path.write_text("{}")
    path.chmod(0o600)
    write_json(path, [1])
    assert _mode(path) == 0o666 & ~umask


def test_directories_get_the_umask_mode(tmp_path, umask):
    want = {0o022: 0o755, 0o002: 0o775, 0o077: 0o700}[umask]
    with atomic_dir(tmp_path / "ckpt") as tmp:
        (tmp / "w.txt").write_text("w")
    assert _mode(tmp_path / "ckpt") == want
    assert (tmp_path / "ckpt" / "w.txt").read_text() == "w"


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "x.json") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "d") as tmp:
        (tmp / "f").write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_atomic_dir_replaces_an_existing_directory(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "stale").write_text("s")
    with atomic_dir(tmp_path / "d") as tmp:
        (tmp / "fresh").write_text("f")
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["fresh"]
    assert [p.name for p in tmp_path.iterdir()] == ["d"]


def test_temporary_names_are_hidden_siblings(tmp_path):
    with atomic_path(tmp_path / "out.json") as tmp:
        assert tmp.parent == tmp_path and tmp.name.startswith(".out.json.")
        assert tmp.name.endswith(".tmp") and tmp.exists()
