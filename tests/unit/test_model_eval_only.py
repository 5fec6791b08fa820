"""Eval-only checkpoints: pinned to a commit, refused without <emb> unless asked to add it."""

from __future__ import annotations

import pytest

from rge.model.eval_only import (
    CheckpointError,
    check_emb_token,
    prepare_checkpoint,
    resolve_checkpoint,
)
from tests.fixtures.shared_fixtures import QWEN_PROCESSOR, need

COMMIT = "0123456789abcdef0123456789abcdef01234567"


@pytest.fixture(scope="module")
def with_emb(tmp_path_factory):
    """A checkpoint folder whose tokenizer knows <emb> (the fixture's, saved with it added)."""
    from transformers import AutoTokenizer

    tk = AutoTokenizer.from_pretrained(str(need(QWEN_PROCESSOR)))
    tk.add_tokens(["<emb>"], special_tokens=True)
    out = tmp_path_factory.mktemp("hub") / "snapshots" / COMMIT
    tk.save_pretrained(out)
    return out


def test_local_checkpoint_without_emb_is_refused_unless_asked():
    with pytest.raises(CheckpointError, match=r"no '<emb>' token.*add_emb: true"):
        prepare_checkpoint(str(need(QWEN_PROCESSOR)))
    rec = prepare_checkpoint(str(QWEN_PROCESSOR), add_emb=True)
    assert rec["emb_added"] and rec["emb_token_id"] == 151665 and rec["vocab_size"] == 151666
    assert rec["resolved_commit"] is None and rec["local_path"] == str(QWEN_PROCESSOR.resolve())


def test_hub_checkpoint_records_the_resolved_commit(with_emb):
    asked = []

    def download(repo_id, revision=None):
        asked.append((repo_id, revision))
        return str(with_emb)

    rec = prepare_checkpoint("MCG-NJU/RGE", "main", download=download)
    assert asked == [("MCG-NJU/RGE", "main")]
    assert rec["resolved_commit"] == COMMIT and rec["revision_requested"] == "main"
    assert rec["emb_token_id"] == 151665 and not rec["emb_added"]
    with pytest.raises(CheckpointError, match="names no commit"):
        resolve_checkpoint("MCG-NJU/RGE", "main", download=lambda r, revision=None: "/tmp/x")


def test_offline_hub_id_is_refused(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(CheckpointError, match="HF_HUB_OFFLINE"):
        resolve_checkpoint("MCG-NJU/RGE", "main")


def test_check_emb_token_on_a_tokenizer_that_has_it(with_emb):
    from transformers import AutoTokenizer

    tk = AutoTokenizer.from_pretrained(str(with_emb))
    assert check_emb_token(tk) == {"emb_token_id": 151665, "emb_added": False}
