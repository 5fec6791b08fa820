"""The embedding cache's identity names what made a vector; the Encoder protocols."""

from __future__ import annotations

import numpy as np
import pytest

from rge.data.protocol import FORMAT_VERSION
from rge.data.records import Item
from rge.evaluate.encoders import (
    Encoder,
    RationaleEncoder,
    ReasoningEncoder,
    cache_identity,
    encoder_rationales,
    side_caches,
)

BASE = {
    "pixels": (10, 20),
    "protocol": "rge_release",
    "dtype": "bfloat16",
    "attn_implementation": "sdpa",
}


def test_identity_names_every_setting():
    direct = cache_identity("fp", "direct", **BASE)
    assert direct == (
        f"model=fp;mode=direct;pixels=10-20;protocol=rge_release;format={FORMAT_VERSION};"
        "dtype=bfloat16;attn=sdpa"
    )
    reasoning = cache_identity(
        "fp",
        "reasoning",
        **BASE,
        max_new_tokens=128,
        decoding={"decoding": "checkpoint", "cap": "last_token"},
    )
    assert reasoning == direct.replace("direct", "reasoning") + (
        ';max_new_tokens=128;decoding={"cap": "last_token", "decoding": "checkpoint"}'
    )
    # defaults are spelled out, so an old-style call still names its decoding
    assert (
        'decoding={"cap": "force_emb", "decoding": "greedy", "engine": "dynamic"}'
        in cache_identity("fp", "reasoning", **BASE, max_new_tokens=8)
    )
    # every field changes the key; decoding only matters in reasoning mode
    for key, value in (
        ("protocol", "mmeb"),
        ("dtype", "float32"),
        ("attn_implementation", "eager"),
    ):
        assert cache_identity("fp", "direct", **{**BASE, key: value}) != direct
    assert cache_identity("fp", "direct", **BASE, decoding={"cap": "last_token"}) == direct
    with pytest.raises(ValueError, match="unknown embedding mode"):
        cache_identity("fp", "generate", **BASE)


def _enc(calls):
    def encode(items, side):
        calls.append(len(items))
        return np.ones((len(items), 3), dtype=np.float32)

    return encode


def test_disk_cache_not_reused_across_protocol_or_dtype(tmp_path):
    items = [Item("a"), Item("b")]
    calls: list[int] = []
    kw = {"pixels": (1, 2), "max_new_tokens": None, "cache_dir": tmp_path}
    first = side_caches("fp", {"target": "direct"}, **kw, protocol="mmeb")
    first.encode(items, "target", _enc(calls))
    first.save("s")
    again = side_caches("fp", {"target": "direct"}, **kw, protocol="mmeb")
    again.encode(items, "target", _enc(calls))
    assert calls == [2]  # reused from disk
    for other in (
        {"protocol": "rge_release"},
        {"dtype": "bfloat16"},
        {"attn_implementation": "eager"},
    ):
        side_caches("fp", {"target": "direct"}, **kw, **other).encode(items, "target", _enc(calls))
    assert calls == [2, 2, 2, 2]
    with pytest.raises(ValueError, match="prompt protocol"):
        side_caches("fp", {"target": "direct"}, **kw, protocol="vlm2vec")


def test_encoder_protocols():
    def plain(items, side):
        return np.zeros((len(items), 2))

    reasoning = ReasoningEncoder(lambda items: (np.zeros((len(items), 2)), [None] * len(items)))
    assert isinstance(plain, Encoder) and not isinstance(plain, RationaleEncoder)
    assert isinstance(reasoning, RationaleEncoder)
    assert encoder_rationales(reasoning) == {}
    with pytest.raises(TypeError, match="keeps no rationales"):
        encoder_rationales(plain)


def test_resolve_attn_implementation(monkeypatch):
    import importlib.util

    from rge.evaluate.encoders import resolve_attn_implementation

    real = importlib.util.find_spec

    def finder(installed):
        def find(name, *args):
            return (object() if installed else None) if name == "flash_attn" else real(name, *args)

        return find

    for installed, auto in ((False, "sdpa"), (True, "flash_attention_2")):
        monkeypatch.setattr(importlib.util, "find_spec", finder(installed))
        assert resolve_attn_implementation("auto") == auto
        assert resolve_attn_implementation("sdpa") == "sdpa"
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(ImportError, match="flash_attn"):
        resolve_attn_implementation("flash_attention_2")
    with pytest.raises(ValueError, match="unknown attention"):
        resolve_attn_implementation("flash")
