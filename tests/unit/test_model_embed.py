"""forward / embed_direct: <emb> pooling, the LM loss on supervised positions, independence
from batch composition and padding side."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rge.data.records import Item
from rge.model.chat import IGNORE, build_batch
from rge.model.embed import emb_positions, embed_direct, forward
from rge.model.factory import emb_token_id
from tests.fixtures.tiny_model import scene_items, small_model


@pytest.fixture(scope="module")
def tiny():
    return small_model(seed=2)


def _mixed(n_img: int = 3):
    items, _, load = scene_items(n_img, seed=5)
    texts = [Item("a text-only target"), Item("another, much longer text-only query with words")]
    return [items[0], texts[0], items[1], texts[1], items[2]], load


def test_forward_matches_full_logits(tiny):
    model, proc = tiny
    items, load = _mixed()
    b = build_batch(proc, items, ["left is red", "", "a b c", "why not", "x"], load_image=load)
    emb, loss_sum, n = forward(model, b)
    assert emb.shape == (5, model.config.text_config.hidden_size)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(5), atol=1e-5)
    assert emb.requires_grad and loss_sum.requires_grad
    assert n.item() == (b["labels"] != IGNORE).sum().item()
    # reference: the model's own full-vocabulary logits over the whole sequence
    from rge.model.embed import position_ids

    out = model(
        **{k: v for k, v in b.items() if k != "labels"}, position_ids=position_ids(model, b)
    )
    ref = F.cross_entropy(
        out.logits[:, :-1].reshape(-1, out.logits.shape[-1]),
        b["labels"][:, 1:].reshape(-1),
        ignore_index=IGNORE,
        reduction="sum",
    )
    assert torch.allclose(loss_sum, ref, rtol=1e-5)
    loss_sum.backward()
    assert model.lm_head.weight.grad is not None
    model.zero_grad(set_to_none=True)


def test_embedding_is_hidden_state_at_first_emb(tiny):
    model, proc = tiny
    with torch.no_grad():
        batch = build_batch(proc, [Item("q")], ["r"])
        a = forward(model, batch, lm=False)[0]
        # tokens after the first <emb> cannot change it (causal), a second <emb> is ignored;
        # appended as ids: "<emb>" written in a response is plain text (issue 11)
        tail = torch.tensor([[proc.tokenizer.convert_tokens_to_ids("a"), emb_token_id(proc)]])
        longer = {
            "input_ids": torch.cat([batch["input_ids"], tail], 1),
            "attention_mask": torch.cat([batch["attention_mask"], torch.ones_like(tail)], 1),
            "labels": torch.cat([batch["labels"], tail], 1),
        }
        longer["mm_token_type_ids"] = torch.zeros_like(longer["input_ids"])
        b = forward(model, longer, lm=False)[0]
        c = forward(model, build_batch(proc, [Item("q")], ["s"]), lm=False)[0]
    assert torch.allclose(a, b, atol=1e-6)
    assert not torch.allclose(a, c, atol=1e-3)


def test_missing_emb_names_rows(tiny):
    _, proc = tiny
    b = build_batch(proc, [Item("q"), Item("p")], emb=False)
    with pytest.raises(ValueError, match=r"rows \[0, 1\]"):
        emb_positions(b["input_ids"], emb_token_id(proc))


def test_independent_of_batch_and_padding(tiny):
    model, proc = tiny
    items, load = _mixed()
    alone = torch.cat([embed_direct(model, proc, [it], load_image=load) for it in items])
    batched = embed_direct(model, proc, items, batch_size=5, load_image=load)
    reordered = embed_direct(model, proc, items[::-1], batch_size=2, load_image=load)
    assert (batched - alone).abs().max() < 1e-5
    assert (reordered.flip(0) - alone).abs().max() < 1e-5
    with torch.no_grad():
        left = forward(
            model, build_batch(proc, items, padding_side="left", load_image=load), lm=False
        )[0]
    assert (left - alone).abs().max() < 1e-5
    assert not model.training


def test_embed_direct_restores_training_mode(tiny):
    model, proc = tiny
    model.train()
    out = embed_direct(model, proc, [Item("x")])
    assert model.training and out.shape[0] == 1
    model.eval()
    assert embed_direct(model, proc, []).shape == (0, model.config.text_config.hidden_size)
