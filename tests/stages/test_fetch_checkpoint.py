"""fetch_checkpoint: an eval-only hub checkpoint pinned to its resolved commit, copied into the
study, refused when its tokenizer has no <emb> unless the entry adds it."""

from __future__ import annotations

import json

import pytest

from rge.io import read_json
from rge.model.eval_only import CheckpointError
from rge.stages.fetch_checkpoint import main
from tests.fixtures.shared_fixtures import QWEN_PROCESSOR, need

COMMIT = "89abcdef0123456789abcdef0123456789abcdef"


def snapshot(root, with_emb: bool):
    """A hub-cache-like snapshot folder (named after its commit) holding the fixture tokenizer."""
    from transformers import AutoTokenizer

    tk = AutoTokenizer.from_pretrained(str(need(QWEN_PROCESSOR)))
    if with_emb:
        tk.add_tokens(["<emb>"], special_tokens=True)
    out = root / "snapshots" / COMMIT
    tk.save_pretrained(out)
    return out


def argv(tmp_path, add_emb=False):
    cfg = {"run": "released_rge", "repo_id": "MCG-NJU/RGE", "revision": "main", "add_emb": add_emb}
    return [
        "--cfg", json.dumps(cfg),
        "--output", f"model={tmp_path / 'out' / 'model'}",
        "--output", f"source={tmp_path / 'out' / 'source.json'}",
    ]  # fmt: skip


def test_the_resolved_commit_is_recorded_and_the_files_copied(tmp_path):
    snap = snapshot(tmp_path / "hub", with_emb=True)
    asked = []

    def download(repo_id, revision=None):
        asked.append((repo_id, revision))
        return str(snap)

    record = main(argv(tmp_path), download=download)
    assert asked == [("MCG-NJU/RGE", "main")]
    assert read_json(tmp_path / "out" / "source.json") == record
    assert record["resolved_commit"] == COMMIT and record["revision_requested"] == "main"
    assert record["run"] == "released_rge" and record["emb_token_id"] == 151665
    copied = tmp_path / "out" / "model" / "tokenizer_config.json"
    assert copied.read_bytes() == (snap / "tokenizer_config.json").read_bytes()


def test_a_tokenizer_without_emb_is_refused_unless_the_entry_adds_it(tmp_path):
    snap = snapshot(tmp_path / "hub", with_emb=False)
    with pytest.raises(CheckpointError, match="add_emb: true"):
        main(argv(tmp_path), download=lambda repo_id, revision=None: str(snap))
    assert not (tmp_path / "out" / "model").exists()
    record = main(argv(tmp_path, add_emb=True), download=lambda repo_id, revision=None: str(snap))
    assert record["emb_added"] is True
