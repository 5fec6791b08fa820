"""Tiny model factory: tokenizer, chat template, <emb>, determinism, save / offline reload."""

from __future__ import annotations

import pytest
import torch

from rge.backbone.tiny import tokenizer_corpus
from rge.model import factory
from rge.model.factory import EMB_TOKEN, emb_token_id, load_pretrained, save_pretrained
from rge.model.tokenizer import CHAT_TEMPLATE, INSTRUCTION_CORPUS, SPECIAL_TOKENS, train_tokenizer
from tests.fixtures.tiny_model import MAX_PIXELS, MIN_PIXELS, SMALL_SPEC, small_model


def test_tokenizer_covers_scene_words_and_any_text():
    tk = train_tokenizer(400, tokenizer_corpus())
    ids = tk("left is purple triangle , right is cyan cross .", add_special_tokens=False)
    assert len(ids["input_ids"]) == 10  # one token per word
    text = "Grüße, 世界! <odd> \t tabs"
    assert tk.decode(tk(text, add_special_tokens=False)["input_ids"]) == text
    for special in SPECIAL_TOKENS:
        assert len(tk(special, add_special_tokens=False)["input_ids"]) == 1


def test_chat_template_renders_chatml():
    tk = train_tokenizer(300)
    assert tk.chat_template == CHAT_TEMPLATE
    msgs = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "hi"}]}]
    out = tk.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
    assert out == (
        "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
        "<|vision_start|><|image_pad|><|vision_end|>hi<|im_end|>\n<|im_start|>assistant\n"
    )


def test_same_seed_same_weights_other_seed_differs():
    a, pa = small_model(seed=3)
    b, _ = small_model(seed=3)
    c, _ = small_model(seed=4)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
    assert len(pa.tokenizer) == a.get_input_embeddings().weight.shape[0]


def test_emb_token_is_one_special_id():
    model, proc = small_model()
    emb = emb_token_id(proc)
    ids = proc.tokenizer(f"left{EMB_TOKEN}", add_special_tokens=False)["input_ids"]
    assert ids[-1] == emb and len(ids) == 2
    assert proc.tokenizer.decode(ids, skip_special_tokens=True) == "left"
    assert model.config.emb_token_id == emb
    assert type(proc).__name__ == "Qwen2_5_VLProcessor"


def test_spec_errors_name_the_key():
    with pytest.raises(ValueError, match="unknown key.*hidden_sz"):
        factory.build_tiny({"hidden_sz": 3}, seed=0, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    with pytest.raises(ValueError, match="mrope_section"):
        factory.build_tiny(
            {**SMALL_SPEC, "mrope_section": [4, 6, 6]},
            seed=0,
            min_pixels=MIN_PIXELS,
            max_pixels=MAX_PIXELS,
        )


def test_save_reload_offline_round_trip(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model, proc = small_model(seed=1)
    save_pretrained(model, proc, tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").exists()
    again, proc2 = load_pretrained(
        str(tmp_path / "m"), min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS
    )
    assert emb_token_id(proc2) == emb_token_id(proc)
    assert again.config.emb_token_id == emb_token_id(proc)
    assert len(proc2.tokenizer) == len(proc.tokenizer)
    assert proc2.tokenizer.chat_template == CHAT_TEMPLATE
    assert proc2.image_processor.size["shortest_edge"] == MIN_PIXELS
    assert proc2.image_processor.size["longest_edge"] == MAX_PIXELS
    s1, s2 = model.state_dict(), again.state_dict()
    assert s1.keys() == s2.keys() and all(torch.equal(s1[k], s2[k]) for k in s1)
    _, small = load_pretrained(str(tmp_path / "m"), min_pixels=MIN_PIXELS, max_pixels=MIN_PIXELS)
    assert small.image_processor.size["longest_edge"] == MIN_PIXELS  # the caller's bounds win
    with pytest.raises(FileNotFoundError, match="HF_HUB_OFFLINE"):
        load_pretrained("no-such-org/no-such-model", min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)


def test_load_adds_emb_when_missing(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    tok = train_tokenizer(300)
    proc = factory.make_processor(tok, min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS)
    from transformers import Qwen2_5_VLForConditionalGeneration

    model = Qwen2_5_VLForConditionalGeneration(factory.tiny_config(SMALL_SPEC, tok))
    n = len(tok)
    assert EMB_TOKEN not in tok.get_vocab()
    save_pretrained(model, proc, tmp_path / "plain")
    loaded, proc2 = load_pretrained(
        str(tmp_path / "plain"), min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS
    )
    assert emb_token_id(proc2) == n
    assert loaded.get_input_embeddings().weight.shape[0] == n + 1
    assert loaded.lm_head.weight.shape[0] == n + 1


def test_corpus_decides_merges_and_none_is_the_instruction_corpus():
    scene = train_tokenizer(400, tokenizer_corpus())
    generic = train_tokenizer(400)
    assert (
        generic.backend_tokenizer.to_str()
        == train_tokenizer(400, INSTRUCTION_CORPUS).backend_tokenizer.to_str()
    )
    words = "left is purple triangle"  # scene words are in the backbone corpus only
    assert len(scene(words, add_special_tokens=False)["input_ids"]) == 4  # one token per word
    assert len(generic(words, add_special_tokens=False)["input_ids"]) > 4
    assert generic.decode(generic(words, add_special_tokens=False)["input_ids"]) == words
