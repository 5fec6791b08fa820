"""One attention call per vision layer: same output and gradients as transformers' per-window
``sdpa`` loop (fp32, <= 1e-6), exactly ``depth`` attention calls, the text model untouched, and a
loud failure when transformers stops routing "flash"-named implementations to its varlen branch.
"""

from __future__ import annotations

import copy

import pytest
import torch

from rge.model.chat import build_batch
from rge.model.embed import forward
from rge.model.op_count import OpCounter
from rge.model.vision_attention import (
    VISION_ATTENTION,
    _padded,
    use_vision_varlen,
    varlen_vision_attention,
)
from tests.fixtures.reasoning_helpers import mixed_items
from tests.fixtures.tiny_model import small_model

DEPTH = 4
TOL = 1e-6


@pytest.fixture(scope="module")
def pair():
    # window 56 px = 2x2 merged tokens: 4 / 1 / 4 / 4 windows for the 8x8 / 4x4 / 6x6 / 8x8 grids
    model, proc = small_model(vision_depth=DEPTH, fullatt_block_indexes=[3], window_size=56)
    one_call = use_vision_varlen(copy.deepcopy(model))
    items, load = mixed_items()
    return model, one_call, build_batch(proc, items, load_image=load)


def _sdpa_calls(count: OpCounter) -> int:
    return sum(n for name, n in count.by_name.items() if "scaled_dot_product" in name)


def test_routing_is_for_the_vision_tower_only(pair):
    model, one_call, _ = pair
    from transformers.utils.generic import is_flash_attention_requested

    # the one fact of transformers 5.24 this module relies on: a "flash" substring routes
    assert is_flash_attention_requested(requested_attention_implementation=VISION_ATTENTION)
    assert one_call.config.vision_config._attn_implementation == VISION_ATTENTION
    assert one_call.model.visual.config._attn_implementation == VISION_ATTENTION
    for m in (model, one_call):
        assert m.config.text_config._attn_implementation == "sdpa"
        assert m.model.language_model.config._attn_implementation == "sdpa"


def test_same_output_and_exactly_depth_calls(pair):
    model, one_call, batch = pair
    pv, thw = batch["pixel_values"], batch["image_grid_thw"]
    with torch.no_grad(), OpCounter() as loop:
        want = model.model.visual(pv, grid_thw=thw).pooler_output
    with torch.no_grad(), OpCounter() as one:
        got = one_call.model.visual(pv, grid_thw=thw).pooler_output
    assert (got - want).abs().max().item() <= TOL
    assert _sdpa_calls(one) == DEPTH
    # 3 windowed layers x 13 windows + 1 full layer x 4 images: the per-window loop
    assert _sdpa_calls(loop) == 3 * 13 + 4


def test_same_gradients_in_a_training_forward(pair):
    model, one_call, batch = pair
    grads = []
    for m in (model, one_call):
        m.zero_grad(set_to_none=True)
        emb, lm, _ = forward(m, batch)
        (emb.sum() + lm).backward()
        grads.append({n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None})
    assert grads[0].keys() == grads[1].keys()
    assert any("visual.blocks.0.attn.qkv" in n for n in grads[0])
    for name, g in grads[0].items():
        # relative to the gradient's scale (the embedding rows' gradients reach ~400 here)
        scale = max(1.0, g.abs().max().item())
        assert (grads[1][name] - g).abs().max().item() <= TOL * scale, name


def test_padded_call_by_hand():
    """Two windows (lengths 2 and 1) against attention computed per window by hand."""
    torch.manual_seed(0)
    q, k, v = (torch.randn(3, 2, 4) for _ in range(3))
    cu = torch.tensor([0, 2, 3])
    got = _padded(q, k, v, cu, 2, 0.5)
    for lo, hi in ((0, 2), (2, 3)):
        w = torch.softmax(torch.einsum("qhd,khd->hqk", q[lo:hi], k[lo:hi]) * 0.5, dim=-1)
        want = torch.einsum("hqk,khd->qhd", w, v[lo:hi])
        assert torch.allclose(got[lo:hi], want, atol=1e-6)


def test_fails_loudly_without_window_boundaries():
    x = torch.zeros(1, 2, 3, 4)
    with pytest.raises(ValueError, match="no longer routes"):
        varlen_vision_attention(None, x, x, x, None, scaling=0.5)
