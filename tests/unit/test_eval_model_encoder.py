"""encoding_settings: what an evaluation job records with every score and keys its cache on."""

from __future__ import annotations

import importlib.util

import pytest

from rge.evaluate import model_encoder
from rge.evaluate.encoders import DEFAULT_DECODING
from rge.evaluate.model_encoder import encoding_settings, generation_settings
from rge.model.generation import GenerationSettings


def test_defaults_are_the_earlier_behaviour():
    assert encoding_settings({}) == {
        "prompt_protocol": "mmeb", "dtype": "float32", "attn_implementation": "sdpa",
        "decoding": {"engine": "dynamic", "decoding": "greedy", "cap": "force_emb"},
    }  # fmt: skip
    assert encoding_settings({})["decoding"] == dict(DEFAULT_DECODING)


def test_the_generation_block_is_what_reasoning_mode_records():
    cfg = {"generation": {"engine": "static", "decoding": "checkpoint", "cap": "last_token",
                          "sync_every": 4}}  # fmt: skip
    assert encoding_settings(cfg)["decoding"] == {
        "engine": "static", "decoding": "checkpoint", "cap": "last_token",
    }  # fmt: skip


def test_a_bad_generation_block_is_named():
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['enigne'\]"):
        encoding_settings({"generation": {"enigne": "static"}})
    with pytest.raises(ValueError, match="generation.cap"):
        encoding_settings({"generation": {"cap": "emb"}})


def test_the_factory_loads_and_reasons_as_the_block_says(monkeypatch):
    got = {}
    monkeypatch.setattr(model_encoder, "model_encoders", lambda d, **kw: got.update(kw))
    cfg = {"min_pixels": 1, "max_pixels": 2, "batch_size": 3, "max_new_tokens": 9, "seed": 5,
           "generation": {"engine": "static", "cap": "last_token", "dtype": "bfloat16",
                          "attn_implementation": "auto"}}  # fmt: skip
    model_encoder.model_encoder_factory("m", cfg)
    settings = generation_settings(cfg)
    assert settings == GenerationSettings(engine="static", cap="last_token", dtype="bfloat16",
                                          attn_implementation=settings.attn_implementation)  # fmt: skip
    assert settings.attn_implementation in ("sdpa", "flash_attention_2")  # "auto" resolved
    assert got == {"min_pixels": 1, "max_pixels": 2, "batch_size": 3, "max_new_tokens": 9,
                   "dtype": "bfloat16", "attn_implementation": settings.attn_implementation,
                   "reasoning_options": {"generation": settings, "seed": 5}}  # fmt: skip


def test_the_slice_keys_are_read_and_auto_attention_resolved():
    cfg = {"prompt_protocol": "rge_release",
           "generation": {"dtype": "bfloat16", "attn_implementation": "auto"}}  # fmt: skip
    settings = encoding_settings(cfg)
    flash = importlib.util.find_spec("flash_attn") is not None
    assert settings["attn_implementation"] == ("flash_attention_2" if flash else "sdpa")
    assert (settings["prompt_protocol"], settings["dtype"]) == ("rge_release", "bfloat16")


def test_flash_attention_asked_for_without_the_package_is_refused():
    if importlib.util.find_spec("flash_attn") is not None:
        pytest.skip("flash_attn is installed here")
    with pytest.raises(ImportError, match="flash_attn"):
        encoding_settings({"generation": {"attn_implementation": "flash_attention_2"}})
