"""encoding_settings: what an evaluation job records with every score and keys its cache on."""

from __future__ import annotations

import importlib.util

import pytest

from rge.evaluate.encoders import DEFAULT_DECODING
from rge.evaluate.model_encoder import encoding_settings


def test_defaults_are_the_earlier_behaviour():
    assert encoding_settings({}) == {
        "prompt_protocol": "mmeb", "dtype": "float32", "attn_implementation": "sdpa",
        "decoding": dict(DEFAULT_DECODING),
    }  # fmt: skip


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
