"""Reasoning mode in the evaluation layer: the rationale-keeping encoder, rationale records and
statistics, per-side caches, the items each side reasons about, and ``model_encoders``."""

from __future__ import annotations

import numpy as np
import pytest

from rge.data.records import Item, RetrievalSet
from rge.evaluate import mmeb, retrieval
from rge.evaluate.encoders import (
    ReasoningEncoder,
    encoder_rationales,
    model_encoders,
    rationale_records,
    rationale_stats,
    side_caches,
)
from rge.model.reasoning import Rationale
from tests.fixtures.eval_fakes import colour_rows
from tests.fixtures.reasoning_helpers import fake_rationale, reasoning_word_encoder


def test_reasoning_encoder_generates_each_item_once():
    calls: list = []
    enc = reasoning_word_encoder(calls)
    a, b = Item("red thing"), Item("blue thing", "/x.png")
    first = enc([a, b, a], "query")
    assert first.shape == (3, 4) and np.array_equal(first[0], first[2])
    again = enc([b, Item("green")], "target")  # b known from the query side
    assert np.array_equal(again[0], first[1])
    assert calls == [[a, b], [Item("green")]]
    assert encoder_rationales(enc)[b.key] == fake_rationale(b)


def test_reasoning_encoder_checks_its_embed():
    enc = ReasoningEncoder(lambda items: (np.zeros((len(items), 2)), []))
    with pytest.raises(ValueError, match="0 rationales for 2 query items"):
        enc([Item("a"), Item("b")], "query")
    with pytest.raises(TypeError, match="keeps no rationales"):
        encoder_rationales(lambda items, side: np.zeros((len(items), 2)))


def test_rationale_records_and_stats():
    r = {
        Item("q1").key: Rationale("a b", (1, 2), 2, False),
        Item("q2").key: Rationale("", (), 0, False),
        Item("t").key: Rationale("c c c c c", (3,) * 5, 5, True),
    }
    entries = [
        ("k0", "query", Item("q1")),
        ("k1", "query", Item("q2")),
        ("k2", "query", Item("q1")),  # the same item again: one record, first key
        ("k0/0", "target", Item("t")),
        ("k0/1", "target", Item("q1")),  # the same item on the other side: its own record
    ]
    recs = rationale_records(entries, r)
    assert [(x["key"], x["side"], x["n_tokens"], x["forced"]) for x in recs] == [
        ("k0", "query", 2, False),
        ("k1", "query", 0, False),
        ("k0/0", "target", 5, True),
        ("k0/1", "target", 2, False),
    ]
    assert recs[0] == {"key": "k0", "side": "query", "text": "q1", "image": None,
                       "rationale": "a b", "n_tokens": 2, "forced": False}  # fmt: skip
    assert rationale_stats(recs) == {
        "num_rationales": 4,
        "mean_rationale_tokens": 9 / 4,
        "forced_emb_rate": 0.25,
    }
    assert rationale_stats([]) == {
        "num_rationales": 0,
        "mean_rationale_tokens": None,
        "forced_emb_rate": None,
    }
    with pytest.raises(KeyError, match="k9 \\(query\\): no rationale"):
        rationale_records([("k9", "query", Item("unknown"))], r)


def test_side_caches_share_direct_and_keep_reasoning_in_memory(tmp_path):
    kw = {"pixels": (1, 2), "max_new_tokens": 16, "cache_dir": tmp_path}
    both = side_caches("fp", {"query": "direct", "target": "direct"}, **kw)
    assert both.caches["query"] is both.caches["target"]  # one writer for the shard
    mixed = side_caches("fp", {"query": "reasoning", "target": "direct"}, **kw)
    assert mixed.caches["target"].identity == both.caches["target"].identity
    assert mixed.caches["target"].folder == both.caches["target"].folder
    assert mixed.caches["query"].folder is None
    assert "max_new_tokens=16" in mixed.caches["query"].identity
    other = side_caches(
        "fp", {"query": "reasoning", "target": "direct"}, **{**kw, "max_new_tokens": 8}
    )
    assert other.caches["query"].identity != mixed.caches["query"].identity

    enc = reasoning_word_encoder()
    mixed.encode([Item("red")], "query", enc)
    mixed.encode([Item("blue"), Item("red")], "target", enc)
    mixed.save("shard")
    assert mixed.counts() == (0, 3)
    assert [p.name for p in tmp_path.rglob("*.npz")] == ["shard.npz"]


def test_mmeb_reasoning_entries():
    rows = colour_rows()
    assert mmeb.reasoning_entries(rows, []) == []
    q = mmeb.reasoning_entries(rows, ["query"])
    assert [(k, s) for k, s, _ in q] == [(f"toy/{i}", "query") for i in range(4)]
    t = mmeb.reasoning_entries(rows, ["target"])
    assert len(t) == 12 and t[4] == ("toy/1/1", "target", rows[1].candidates[1])
    with pytest.raises(ValueError, match="unknown sides"):
        mmeb.reasoning_entries(rows, ["candidates"])


def test_retrieval_reasoning_entries():
    rs = RetrievalSet("toy", ("/a.png",), ("cap a", "cap b"))
    kw = {"image_text": "<|image_1|> pic", "caption_template": "say: {caption}"}
    assert retrieval.reasoning_entries(rs, "direct", "direct", **kw) == []
    q = retrieval.reasoning_entries(rs, "reasoning", "direct", **kw)
    assert q == [
        ("caption/0", "query", Item("say: cap a")),
        ("caption/1", "query", Item("say: cap b")),
        ("image/0", "query", Item("<|image_1|> pic", "/a.png")),
    ]
    t = retrieval.reasoning_entries(rs, "direct", "reasoning", **kw)
    assert [(k, s) for k, s, _ in t] == [
        ("image/0", "target"),
        ("caption/0", "target"),
        ("caption/1", "target"),
    ]


def test_model_encoders_reasoning_on_saved_model(tmp_path):
    from rge.model.factory import save_pretrained
    from rge.model.reasoning import embed_reasoning
    from tests.fixtures.tiny_model import MAX_PIXELS, MIN_PIXELS, small_model

    model, proc = small_model(seed=4)
    save_pretrained(model, proc, tmp_path / "m")
    pixels = {"min_pixels": MIN_PIXELS, "max_pixels": MAX_PIXELS}
    with pytest.raises(ValueError, match="needs max_new_tokens"):
        model_encoders(tmp_path / "m", batch_size=2, **pixels)("reasoning", "query")
    encoder_for = model_encoders(tmp_path / "m", batch_size=2, max_new_tokens=3, **pixels)
    enc = encoder_for("reasoning", "query")
    assert encoder_for("reasoning", "target") is enc
    items = [Item("first query"), Item("a second, longer query"), Item("third")]
    vecs = enc(items, "query")
    ref, rats = embed_reasoning(model, proc, items, max_new_tokens=3)
    assert np.abs(vecs - ref.numpy()).max() < 1e-5
    assert [encoder_rationales(enc)[it.key] for it in items] == rats
    direct = encoder_for("direct", "target")(items, "target")
    assert direct.shape == vecs.shape and not np.allclose(direct, vecs, atol=1e-3)
