"""CUDA-only checks of the static engine and the one-call vision attention (run by
``benchmarks/gpu_check.sh decode``; skipped without CUDA).

The captured graph decodes what the eager static step decodes; a step makes no host sync
(``torch.cuda.set_sync_debug_mode("error")``); an in-place weight update (ZeRO-2's way) keeps
the graph valid; a parameter that moved is noticed and the step recaptured; ``varlen_attn`` in
bf16 matches the per-window loop within bf16 noise, forward and backward.
"""

from __future__ import annotations

import copy

import pytest
import torch

from rge.model import static_decode as sd
from rge.model.chat import build_batch
from rge.model.generation import GenerationSettings
from rge.model.reasoning import _choice, _left_batch, embed_reasoning
from rge.model.vision_attention import use_vision_varlen
from tests.fixtures.reasoning_helpers import CAP, mixed_items, stopping_model

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
STATIC = GenerationSettings(engine="static")


@pytest.fixture(scope="module")
def stopping():
    model, proc, items, load = stopping_model()
    return model.cuda(), proc, items, load


def _embed(stopping, settings):
    model, proc, items, load = stopping
    return embed_reasoning(
        model, proc, items, max_new_tokens=CAP, load_image=load, generation=settings
    )


def test_graph_equals_dynamic_and_is_captured(stopping):
    model = stopping[0]
    sd._ENGINES.pop(model, None)
    emb_d, rats_d = _embed(stopping, GenerationSettings())
    emb_s, rats_s = _embed(stopping, STATIC)
    assert rats_s == rats_d
    assert (emb_s - emb_d).abs().max().item() <= 1e-4
    engine = sd._ENGINES[model]
    assert any(dec.ws.graph is not None for dec in engine.decoders.values())
    again = _embed(stopping, STATIC)  # replayed from the retained workspace
    assert again[1] == rats_s and torch.equal(again[0], emb_s)


def _decoder(model, proc, items, load, cap=4):
    choice = _choice(model, proc, STATIC, 0)
    batch = {k: v.cuda() for k, v in _left_batch(proc, items, load).items()}
    ws = sd.Workspace(model, (*batch["input_ids"].shape, cap), choice.decoding)
    dec = sd.StaticDecoder(
        model, ws, decoding=choice.decoding, suppress=choice.suppress, emb_id=choice.emb_id,
        fill_id=int(choice.suppress[0]), use_graph=True, compiled=False,
    )  # fmt: skip
    return dec, batch


@torch.no_grad()
def test_step_has_no_sync_under_cuda_debug_mode(stopping):
    model, proc, items, load = stopping
    dec, batch = _decoder(model, proc, items, load)
    dec.load(batch)
    dec.step()  # first warm-up
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        dec.step()  # the eager step body (second warm-up)
    finally:
        torch.cuda.set_sync_debug_mode(0)
    dec.step()  # capture (torch.cuda.graph synchronises on entry) + replay
    assert dec.ws.graph is not None
    torch.cuda.set_sync_debug_mode("error")
    try:
        dec.step()  # replay
    finally:
        torch.cuda.set_sync_debug_mode(0)


@torch.no_grad()
def test_in_place_update_keeps_graph_valid_and_moved_params_recapture(stopping):
    model, proc, items, load = stopping
    model = copy.deepcopy(model)
    ptrs = sd._param_ptrs(model)
    dec, batch = _decoder(model, proc, items, load)

    def run() -> torch.Tensor:
        dec.load(batch)
        for _ in range(4):
            dec.step()
        return dec.ws.last.clone()

    run()
    graph = dec.ws.graph
    assert graph is not None
    for p in model.parameters():
        p.add_(1e-3 * torch.randn_like(p))
    replayed = run()
    assert dec.ws.graph is graph and sd._param_ptrs(model) == ptrs
    dec.use_graph = False
    eager = run()
    assert (replayed - eager).abs().max().item() <= 1e-4
    dec.use_graph = True
    w = model.lm_head.weight
    w.data = w.data.clone()  # storage moved: the graph must notice
    run()
    assert dec.ws.graph is not graph


def test_varlen_vision_bf16_forward_and_backward():
    from tests.fixtures.tiny_model import small_model

    model, proc = small_model(vision_depth=4, fullatt_block_indexes=[3], window_size=56)
    model = model.cuda().to(torch.bfloat16)
    one_call = use_vision_varlen(copy.deepcopy(model))
    items, load = mixed_items()
    batch = build_batch(proc, items, load_image=load)
    pv = batch["pixel_values"].cuda().to(torch.bfloat16)
    thw = batch["image_grid_thw"].cuda()
    outs, grads = [], []
    for m in (model, one_call):
        out = m.model.visual(pv, grid_thw=thw).pooler_output
        out.float().sum().backward()
        outs.append(out.float())
        grads.append(m.model.visual.blocks[0].attn.qkv.weight.grad.float())
    assert (outs[0] - outs[1]).abs().max().item() <= 2e-2
    scale = grads[0].abs().max().item()
    assert (grads[0] - grads[1]).abs().max().item() <= 2e-2 * max(scale, 1.0)
