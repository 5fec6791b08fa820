"""The ``generation:`` block: settings validation, decoding as the checkpoint says (repetition
penalty, near-zero temperature, sampling only when allowed), and the cap rule (``force_emb`` vs
the release's ``last_token``) for both engines: batched equals one-at-a-time and equals a full
re-forward; checkpoint decoding writes the tokens HF ``generate`` writes one query at a time.
"""

from __future__ import annotations

import logging

import pytest
import torch
import torch.nn.functional as F
from transformers import GenerationConfig, RepetitionPenaltyLogitsProcessor

from rge.model.chat import build_batch
from rge.model.embed import hidden_states
from rge.model.factory import emb_token_id
from rge.model.generation import (
    GREEDY,
    Decoding,
    GenerationSettings,
    choose_tokens,
    resolve_decoding,
)
from rge.model.reasoning import embed_reasoning, rationale_batch, suppressed_ids
from tests.fixtures.reasoning_helpers import CAP, stopping_model

PENALTY = 1.3  # large enough to change the tiny model's greedy tokens


def test_settings_defaults_and_from_dict():
    s = GenerationSettings.from_dict(None)
    assert s == GenerationSettings()
    assert (s.engine, s.decoding, s.cap, s.sync_every, s.compile) == (
        "dynamic", "greedy", "force_emb", 8, False,
    )  # fmt: skip
    assert (s.length_buckets, s.dtype, s.attn_implementation, s.allow_sampling) == (
        4, "float32", "sdpa", False,
    )  # fmt: skip
    got = GenerationSettings.from_dict(
        {"engine": "static", "cap": "last_token", "dtype": "bfloat16"}
    )
    assert got.engine == "static" and got.cap == "last_token" and got.torch_dtype == torch.bfloat16
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['temprature'\]"):
        GenerationSettings.from_dict({"temprature": 0.0})
    with pytest.raises(ValueError, match="generation.engine"):
        GenerationSettings(engine="vllm")
    with pytest.raises(ValueError, match="generation.sync_every"):
        GenerationSettings(sync_every=0)
    with pytest.raises(ValueError, match="generation.length_buckets"):
        GenerationSettings(length_buckets=True)
    with pytest.raises(ValueError, match="generation.compile"):
        GenerationSettings(compile="yes")


def _gc(**kw) -> GenerationConfig:
    return GenerationConfig(**kw)


def test_resolve_decoding(caplog):
    checkpoint = GenerationSettings(decoding="checkpoint")
    qwen = _gc(repetition_penalty=1.05, do_sample=True, temperature=1e-6, top_k=50, top_p=1.0)
    assert resolve_decoding(GenerationSettings(), qwen) is GREEDY
    with caplog.at_level(logging.WARNING):
        d = resolve_decoding(checkpoint, qwen)
    assert "decoded greedily" in caplog.text
    assert not d.samples and len(d.processors) == 1
    assert isinstance(d.processors[0], RepetitionPenaltyLogitsProcessor)
    assert d.processors[0].penalty == 1.05
    assert resolve_decoding(checkpoint, _gc()) == Decoding(processors=d.processors[:0])
    warm = _gc(do_sample=True, temperature=0.7, top_k=20, top_p=0.8)
    with pytest.raises(ValueError, match="allow_sampling"):
        resolve_decoding(checkpoint, warm)
    s = resolve_decoding(GenerationSettings(decoding="checkpoint", allow_sampling=True), warm)
    assert (s.temperature, s.top_k, s.top_p) == (0.7, 20, 0.8) and s.samples
    with pytest.raises(ValueError, match="num_beams"):
        resolve_decoding(checkpoint, _gc(num_beams=2))


def test_choose_tokens_by_hand():
    scores = torch.tensor([[3.0, 2.0, -1.0, 0.5]])
    pen = Decoding(processors=[RepetitionPenaltyLogitsProcessor(2.0)])
    context = torch.tensor([[0, 2]])
    none = torch.tensor([], dtype=torch.long)
    assert choose_tokens(scores, GREEDY, none).tolist() == [0]
    # penalised: 3 -> 1.5 (positive: divided), -1 -> -2 (negative: multiplied); 2.0 wins
    assert choose_tokens(scores, pen, none, context=context).tolist() == [1]
    assert choose_tokens(scores, pen, torch.tensor([1]), context=context).tolist() == [0]


def test_sampling_is_seeded_and_follows_the_distribution():
    d = Decoding(temperature=1.0)
    scores = torch.log(torch.tensor([[0.7, 0.3, 1e-9]])).expand(4000, 3).contiguous()
    none = torch.tensor([], dtype=torch.long)
    a = choose_tokens(scores, d, none, generator=torch.Generator().manual_seed(1))
    b = choose_tokens(scores, d, none, generator=torch.Generator().manual_seed(1))
    assert torch.equal(a, b)
    assert abs((a == 0).float().mean().item() - 0.7) < 0.03 and (a == 2).sum() == 0
    top1 = Decoding(temperature=1.0, top_k=1)
    assert (choose_tokens(scores, top1, none, generator=torch.Generator()) == 0).all()


@pytest.fixture(scope="module")
def stopping():
    model, proc, items, load = stopping_model()
    model.generation_config = GenerationConfig(
        repetition_penalty=PENALTY, do_sample=True, temperature=1e-6
    )
    return model, proc, items, load


def _embed(stopping, items, settings, **kw):
    model, proc, _, load = stopping
    return embed_reasoning(
        model, proc, items, max_new_tokens=CAP, load_image=load, generation=settings, **kw
    )


def _reforward(stopping, items, rats, cap_mode) -> torch.Tensor:
    """Full forward over prompt + ids + <emb>: the <emb> state, or for forced rows under
    ``last_token`` the state of the last rationale token (the position before <emb>)."""
    model, proc, _, load = stopping
    batch = rationale_batch(proc, items, [r.token_ids for r in rats], load_image=load)
    with torch.no_grad():
        h = hidden_states(model, batch)
    pos = (batch["input_ids"] == emb_token_id(proc)).int().argmax(dim=1)
    last = torch.tensor([cap_mode == "last_token" and r.forced for r in rats])
    pos = pos - last.long()
    return F.normalize(h[torch.arange(len(rats)), pos].float(), dim=-1)


@pytest.mark.parametrize("cap", ["force_emb", "last_token"])
@pytest.mark.parametrize("decoding", ["greedy", "checkpoint"])
@pytest.mark.parametrize("engine", ["dynamic", "static"])
def test_each_setting_batched_equals_alone_and_reforward(stopping, engine, decoding, cap):
    items = stopping[2]
    settings = GenerationSettings(engine=engine, decoding=decoding, cap=cap)
    emb, rats = _embed(stopping, items, settings)
    assert any(r.forced for r in rats) and not all(r.forced for r in rats)
    alone = [_embed(stopping, [it], settings) for it in items]
    assert [a[1][0] for a in alone] == rats
    assert (torch.cat([a[0] for a in alone]) - emb).abs().max().item() <= 1e-5
    assert (emb - _reforward(stopping, items, rats, cap)).abs().max().item() <= 1e-5


def test_settings_change_what_they_should(stopping):
    items = stopping[2]
    greedy, g_rats = _embed(stopping, items, GenerationSettings())
    ckpt, c_rats = _embed(stopping, items, GenerationSettings(decoding="checkpoint"))
    assert [r.token_ids for r in c_rats] != [r.token_ids for r in g_rats]
    last, l_rats = _embed(stopping, items, GenerationSettings(cap="last_token"))
    assert l_rats == g_rats
    forced = torch.tensor([r.forced for r in g_rats])
    assert torch.equal(last[~forced], greedy[~forced])  # rows that wrote <emb>: same vector
    assert (last[forced] - greedy[forced]).abs().max().item() > 1e-2


def test_checkpoint_decoding_matches_hf_generate_alone(stopping):
    """The release's call: ``generate`` per query under the checkpoint's generation config
    (here its penalty, temperature 1e-6 decoded greedily as ``do_sample=False``)."""
    model, proc, items, load = stopping
    _, rats = _embed(stopping, items, GenerationSettings(decoding="checkpoint", engine="static"))
    emb_id = emb_token_id(proc)
    for item, rat in zip(items, rats, strict=True):
        batch = build_batch(proc, [item], emb=False, padding_side="left", load_image=load)
        batch.pop("labels")
        model.model.rope_deltas = None
        with torch.no_grad():
            out = model.generate(
                **batch, max_new_tokens=CAP, do_sample=False, repetition_penalty=PENALTY,
                eos_token_id=emb_id, pad_token_id=proc.tokenizer.pad_token_id,
                suppress_tokens=suppressed_ids(proc), use_cache=True,
            )  # fmt: skip
        new = out[0, batch["input_ids"].shape[1] :].tolist()
        want = tuple(new[: new.index(emb_id)] if emb_id in new else new)
        assert rat.token_ids == want
    model.model.rope_deltas = None


def test_sampling_only_when_allowed_and_seeded(stopping):
    model, _, items, _ = stopping
    saved = model.generation_config
    model.generation_config = GenerationConfig(do_sample=True, temperature=1.5)
    try:
        with pytest.raises(ValueError, match="allow_sampling"):
            _embed(stopping, items, GenerationSettings(decoding="checkpoint"))
        runs = {}
        for engine in ("dynamic", "static"):
            s = GenerationSettings(decoding="checkpoint", allow_sampling=True, engine=engine)
            runs[engine, 7] = _embed(stopping, items, s, seed=7)[1]
            assert _embed(stopping, items, s, seed=7)[1] == runs[engine, 7]
            runs[engine, 8] = _embed(stopping, items, s, seed=8)[1]
            assert runs[engine, 8] != runs[engine, 7]
        banned = set(suppressed_ids(stopping[1]))
        assert all(not banned & set(r.token_ids) for rats in runs.values() for r in rats)
    finally:
        model.generation_config = saved


def test_settings_load_without_torch():
    """Config validation reads the block without importing torch or transformers."""
    import subprocess
    import sys

    code = (
        "import sys; from rge.model.generation import GenerationSettings as G; "
        "G.from_dict({'engine': 'static'}); "
        "print(any(m in sys.modules for m in ('torch', 'transformers')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
