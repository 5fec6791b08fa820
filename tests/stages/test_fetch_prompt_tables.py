"""fetch_prompt_tables: the release's tables from a mirror or a raw-file server, pinned and checked."""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest

from rge.data.protocol import RELEASE_COMMIT, TABLE_FILES, ProtocolError, fetch_tables, load_tables
from rge.io import read_json
from rge.stages.fetch_prompt_tables import main
from tests.fixtures.shared_fixtures import RELEASE_PROMPTS, need


def _repo_copy(root):
    """A directory laid out like the release repository (``src/<table>``), in tmp."""
    (root / "src").mkdir(parents=True)
    for name in TABLE_FILES.values():
        shutil.copyfile(need(RELEASE_PROMPTS) / name, root / "src" / name)
    return root


def test_stage_reads_a_mirror_and_records_it(tmp_path):
    mirror = _repo_copy(tmp_path / "RGE")
    out = tmp_path / "out"
    source = main(["--cfg", json.dumps({"mirror": str(mirror)}), "--output", f"out={out}"])
    for name in TABLE_FILES.values():
        assert (out / name).read_bytes() == (RELEASE_PROMPTS / name).read_bytes()
    assert read_json(out / "source.json") == source
    assert source["mirror"] == str(mirror) and source["commit"] is None
    assert len(load_tables(out).eval) == 37


def test_download_at_the_pinned_commit(tmp_path):
    server = tmp_path / "raw"
    _repo_copy(server / "MCG-NJU" / "RGE" / RELEASE_COMMIT)
    out = tmp_path / "out"
    out.mkdir()
    source = fetch_tables(out, base_url=f"file://{server}")
    assert source["commit"] == RELEASE_COMMIT and source["repo"] == "MCG-NJU/RGE"
    want = hashlib.sha256((RELEASE_PROMPTS / "candidate_replacements.yaml").read_bytes())
    assert source["sha256"]["candidate_replacements.yaml"] == want.hexdigest()
    with pytest.raises(ValueError, match="40-hex"):
        fetch_tables(out, commit="main", base_url=f"file://{server}")


def test_bad_table_is_refused_at_fetch_time(tmp_path):
    mirror = _repo_copy(tmp_path / "RGE")
    (mirror / "src" / "candidate_replacements.yaml").write_text("OK-VQA:\n  prefix: x\n")
    out = tmp_path / "out"
    with pytest.raises(ProtocolError, match="OK-VQA.*prefix"):
        main(["--cfg", json.dumps({"mirror": str(mirror)}), "--output", f"out={out}"])
    assert not out.exists()
    (mirror / "src" / "candidate_replacements.yaml").unlink()
    with pytest.raises(FileNotFoundError, match="candidate_replacements.yaml"):
        main(["--cfg", json.dumps({"mirror": str(mirror)}), "--output", f"out={out}"])
