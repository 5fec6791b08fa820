"""The full-size Qwen2.5-VL-3B-Instruct architecture, built on the meta device from its public
config values (config/models/qwen2_5_vl_3b.json), with <emb> added."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rge.model.factory import EMB_TOKEN, add_emb_token, build_on_meta

CONFIG = Path(__file__).resolve().parents[2] / "config" / "models" / "qwen2_5_vl_3b.json"


class _VocabOnlyTokenizer:
    """Stands in for the hub tokenizer (not available offline): ``n`` plain tokens."""

    def __init__(self, n: int) -> None:
        self.vocab = {f"t{i}": i for i in range(n)}

    def get_vocab(self) -> dict[str, int]:
        return dict(self.vocab)

    def add_tokens(self, tokens: list[str], special_tokens: bool = False) -> int:
        for t in tokens:
            self.vocab.setdefault(t, len(self.vocab))
        return len(tokens)

    def convert_tokens_to_ids(self, token: str) -> int:
        return self.vocab[token]

    def __len__(self) -> int:
        return len(self.vocab)


class _Processor:
    def __init__(self, tokenizer: _VocabOnlyTokenizer) -> None:
        self.tokenizer = tokenizer


@pytest.fixture(scope="module")
def meta_model():
    return build_on_meta(json.loads(CONFIG.read_text()))


def _n_params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def test_3b_shapes(meta_model):
    lm = meta_model.model.language_model
    assert meta_model.lm_head.weight.is_meta
    assert len(lm.layers) == 36
    attn = lm.layers[0].self_attn
    assert tuple(attn.q_proj.weight.shape) == (2048, 2048)
    assert tuple(attn.k_proj.weight.shape) == (256, 2048)  # 2 kv heads x head_dim 128
    assert tuple(lm.layers[0].mlp.gate_proj.weight.shape) == (11008, 2048)
    assert tuple(lm.embed_tokens.weight.shape) == (151936, 2048)
    vis = meta_model.model.visual
    assert len(vis.blocks) == 32
    assert tuple(vis.blocks[0].mlp.gate_proj.weight.shape) == (3420, 1280)
    assert tuple(vis.merger.mlp[2].weight.shape) == (2048, 5120)
    assert meta_model.config.text_config.rope_parameters["mrope_section"] == [16, 24, 24]
    # tied input/output embeddings, as published
    assert meta_model.lm_head.weight is lm.embed_tokens.weight


def test_3b_parameter_count_and_emb(meta_model):
    before = _n_params(meta_model)
    assert 3.70e9 < before < 3.80e9  # Qwen2.5-VL-3B: ~3.75 B with tied embeddings
    # The real tokenizer (151,665 tokens) leaves padding rows, so <emb> needs no resize there;
    # a tokenizer that fills the matrix forces one extra row.
    processor = _Processor(_VocabOnlyTokenizer(151936))
    emb_id = add_emb_token(meta_model, processor)
    assert emb_id == 151936
    assert EMB_TOKEN in processor.tokenizer.get_vocab()
    assert tuple(meta_model.get_input_embeddings().weight.shape) == (151937, 2048)
    assert tuple(meta_model.lm_head.weight.shape) == (151937, 2048)
    assert _n_params(meta_model) - before == 2048  # one tied row
    assert meta_model.config.emb_token_id == emb_id


def test_no_resize_when_rows_are_free():
    model = build_on_meta(json.loads(CONFIG.read_text()))
    processor = _Processor(_VocabOnlyTokenizer(151665))
    assert add_emb_token(model, processor) == 151665
    assert tuple(model.get_input_embeddings().weight.shape) == (151936, 2048)
