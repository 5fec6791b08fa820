"""Reasoning mode: the cached decode loop + one ``<emb>`` step equals a full re-forward over
prompt + generated ids + ``<emb>``; rows stop at different steps or hit the cap; batching,
padding and chunking do not change a row's result; vision placeholders are never generated.

Tolerances (fp32): max abs difference 1e-4 and cosine >= 0.99999.
"""

from __future__ import annotations

import pytest
import torch

from rge.data.records import Item
from rge.model.chat import build_batch
from rge.model.embed import embed_direct, forward
from rge.model.factory import emb_token_id
from rge.model.reasoning import (
    Rationale,
    embed_reasoning,
    generate_rationales,
    rationale_batch,
    suppressed_ids,
)
from tests.fixtures.reasoning_helpers import CAP, stopping_model

ATOL = 1e-4
MIN_COS = 0.99999


@pytest.fixture(scope="module")
def stopping():
    return stopping_model()


@pytest.fixture(scope="module")
def reasoned(stopping):
    model, proc, items, load = stopping
    return embed_reasoning(model, proc, items, max_new_tokens=CAP, load_image=load)


def _close(a: torch.Tensor, b: torch.Tensor) -> None:
    assert a.shape == b.shape
    assert (a - b).abs().max().item() <= ATOL
    assert (a * b).sum(-1).min().item() >= MIN_COS


def _reforward(model, proc, items, rationales, load) -> torch.Tensor:
    batch = rationale_batch(proc, items, [r.token_ids for r in rationales], load_image=load)
    with torch.no_grad():
        return forward(model, batch, lm=False)[0]


def test_batch_has_stopping_and_capped_rows(reasoned):
    _, rats = reasoned
    stopped = [r.n_tokens for r in rats if not r.forced]
    assert any(r.forced for r in rats), "fixture must have rows that hit the cap"
    assert len(set(stopped)) >= 2, "fixture must have rows stopping at different steps"
    for r in rats:
        assert r.n_tokens == len(r.token_ids)
        # a forced row used the whole budget; a stopped row spent one token on <emb>
        assert r.n_tokens == CAP if r.forced else r.n_tokens < CAP


def test_equals_full_reforward_on_token_ids(stopping, reasoned):
    model, proc, items, load = stopping
    emb, rats = reasoned
    assert emb.dtype == torch.float32 and emb.shape == (len(items), 32)
    assert torch.allclose(emb.norm(dim=-1), torch.ones(len(items)), atol=1e-5)
    _close(emb, _reforward(model, proc, items, rats, load))
    # and the embedding really depends on the rationale: drop it -> a different vector
    direct = embed_direct(model, proc, items, load_image=load)
    assert (direct - emb).abs().max().item() > 1e-2


def test_no_emb_in_rationales_and_no_vision_tokens(stopping, reasoned):
    _, proc, _, _ = stopping
    _, rats = reasoned
    banned = set(suppressed_ids(proc)) | {emb_token_id(proc)}
    for r in rats:
        assert not banned & set(r.token_ids)
        assert r.text == proc.tokenizer.decode(list(r.token_ids), skip_special_tokens=False)


def test_batched_equals_one_at_a_time(stopping, reasoned):
    model, proc, items, load = stopping
    emb, rats = reasoned
    alone = [
        embed_reasoning(model, proc, [it], max_new_tokens=CAP, load_image=load) for it in items
    ]
    assert [r[1][0] for r in alone] == rats
    _close(torch.cat([r[0] for r in alone]), emb)
    chunked, rats2 = embed_reasoning(
        model, proc, items[::-1], max_new_tokens=CAP, batch_size=4, load_image=load
    )
    assert rats2 == rats[::-1]
    _close(chunked, emb.flip(0))


def test_generate_rationales_matches_and_restores_state(stopping, reasoned):
    model, proc, items, load = stopping
    _, rats = reasoned
    model.train()
    try:
        got = generate_rationales(model, proc, items, max_new_tokens=CAP, load_image=load)
        assert model.training, "training flag must be restored"
    finally:
        model.eval()
    assert got == rats
    assert model.model.rope_deltas is None
    chunked = generate_rationales(
        model, proc, items, max_new_tokens=CAP, load_image=load, batch_size=2
    )
    assert chunked == rats


def test_shorter_cap_truncates_and_forces(stopping, reasoned):
    model, proc, items, load = stopping
    _, rats = reasoned
    cap = min(r.n_tokens for r in rats if not r.forced)  # at least one row is cut right here
    emb, short = embed_reasoning(model, proc, items, max_new_tokens=cap, load_image=load)
    for long, s in zip(rats, short, strict=True):
        assert s.token_ids == long.token_ids[:cap]
        assert s.forced == (long.forced or long.n_tokens >= cap)
    _close(emb, _reforward(model, proc, items, short, load))


def test_zero_budget_is_direct_mode(stopping):
    model, proc, items, load = stopping
    emb, rats = embed_reasoning(model, proc, items, max_new_tokens=0, load_image=load)
    assert all(r == Rationale("", (), 0, True) for r in rats)
    _close(emb, embed_direct(model, proc, items, load_image=load))


def test_rationale_batch_matches_text_batch_where_text_round_trips(stopping):
    _, proc, items, load = stopping
    texts = ["left is red , right is blue .", "", "a cube", "x", "the left one", "ok ."]
    ids = [proc.tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    by_ids = rationale_batch(proc, items, ids, load_image=load)
    by_text = build_batch(proc, items, texts, load_image=load)
    assert by_ids.keys() == by_text.keys()
    for k in by_ids:
        assert torch.equal(by_ids[k], by_text[k]), k


def test_vision_placeholders_suppressed(stopping, reasoned):
    """A model that prefers <|image_pad|> over everything still writes the same rationales."""
    model, proc, items, load = stopping
    _, rats = reasoned
    w = model.lm_head.weight
    pad_id = proc.tokenizer.convert_tokens_to_ids("<|image_pad|>")
    saved = w[pad_id].detach().clone()
    with torch.no_grad():
        w[pad_id] = 5.0 * w[rats[0].token_ids[0]]  # wins the first step by far
    try:
        got = generate_rationales(model, proc, items, max_new_tokens=CAP, load_image=load)
    finally:
        with torch.no_grad():
            w[pad_id] = saved
    assert got == rats


def test_bad_arguments(stopping):
    model, proc, items, load = stopping
    with pytest.raises(ValueError, match="max_new_tokens"):
        embed_reasoning(model, proc, items, max_new_tokens=-1, load_image=load)
    with pytest.raises(ValueError, match="batch_size"):
        embed_reasoning(model, proc, items, max_new_tokens=2, batch_size=0, load_image=load)
    with pytest.raises(ValueError, match="token id lists"):
        rationale_batch(proc, items, [[1]], load_image=load)
    emb, rats = embed_reasoning(model, proc, [], max_new_tokens=2)
    assert emb.shape == (0, 32) and rats == []
    assert generate_rationales(model, proc, [Item("q")], max_new_tokens=0) == [
        Rationale("", (), 0, True)
    ]
