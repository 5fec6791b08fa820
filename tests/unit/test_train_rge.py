"""The rge and lm objectives against independent recomputations with ``rge.model.embed``:
loss weighting, the token-weighted LM mean, which forwards run, rationale errors, stats."""

from __future__ import annotations

import pytest
import torch

import rge.model.embed as embed_mod
from rge.model.chat import IGNORE, build_batch
from rge.model.embed import forward
from rge.model.reasoning import rationale_batch
from rge.train.losses import info_nce
from rge.train.objectives import LmObjective, RgeObjective, make_objective
from tests.fixtures.rge_train_helpers import fixed_generator, oracle_for
from tests.fixtures.tiny_model import small_model
from tests.fixtures.train_fakes import scene_pairs

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    model, processor = small_model(seed=0)
    pairs = [p for p in scene_pairs(tmp_path_factory.mktemp("rge"), 8) if p.subset == "left"]
    return model, processor, pairs, oracle_for(pairs)


def _lm_parts(model, processor, pairs, oracle):
    """(query emb after oracle, query LM sum, query tokens, target emb, target LM sum, tokens)."""
    q, qs, qn = forward(model, build_batch(processor, [p.query for p in pairs], oracle))
    t, ts, tn = forward(model, build_batch(processor, [p.pos for p in pairs]))
    return q, qs, int(qn), t, ts, int(tn)


def test_q_oracle_loss_is_the_weighted_sum_of_token_mean_lm_and_infonce(setup):
    model, processor, pairs, oracle = setup
    obj = RgeObjective(pair="q_oracle", alpha_lm=1, alpha_con=3, temperature=0.1,
                       rationales=oracle)  # fmt: skip
    out = obj(model, processor, pairs)
    with torch.no_grad():
        q, qs, qn, t, ts, tn = _lm_parts(model, processor, pairs, [oracle[p.key] for p in pairs])
    assert tn == len(pairs)  # the target side supervises only <emb>
    rat_tokens = processor.tokenizer([oracle[p.key] for p in pairs], add_special_tokens=False)
    assert qn == sum(len(x) + 1 for x in rat_tokens["input_ids"])  # rationale + <emb>
    lm = (qs + ts).item() / (qn + tn)  # token-weighted over both sides, not a mean of means
    con = info_nce(q, t, temperature=0.1).item()
    assert out.lm == pytest.approx(lm, rel=1e-5) and out.con == pytest.approx(con, rel=1e-5)
    assert out.loss.item() == pytest.approx(0.25 * lm + 0.75 * con, rel=1e-5)
    assert out.lm != pytest.approx((qs.item() / qn + ts.item() / tn) / 2, rel=1e-3)


def test_q_self_uses_generated_ids_and_reports_length_and_forced_rate(setup):
    model, processor, pairs, oracle = setup
    calls: list = []
    gen = fixed_generator(calls)
    obj = RgeObjective(pair="q_self", max_new_tokens=6, temperature=0.1, rationales=oracle,
                       generate_fn=gen)  # fmt: skip
    out = obj(model, processor, pairs)
    assert calls == [(len(pairs), 6, None)]  # one generation per step, all rows at once
    rats = gen(model, processor, [p.query for p in pairs], max_new_tokens=6)
    assert out.stats["self_tokens"] == pytest.approx(sum(r.n_tokens for r in rats) / len(rats))
    assert out.stats["forced_emb"] == pytest.approx(sum(r.forced for r in rats) / len(rats))
    assert 0 < out.stats["forced_emb"] < 1
    with torch.no_grad():
        batch = rationale_batch(processor, [p.query for p in pairs], [r.token_ids for r in rats])
        q = forward(model, batch, lm=False)[0]
        _, qs, qn, t, ts, tn = _lm_parts(model, processor, pairs, [oracle[p.key] for p in pairs])
    assert out.con == pytest.approx(info_nce(q, t, temperature=0.1).item(), rel=1e-5)
    assert out.lm == pytest.approx((qs + ts).item() / (qn + tn), rel=1e-5)
    assert out.loss.item() == pytest.approx((out.lm + 10 * out.con) / 11, rel=1e-5)


def test_q_self_with_the_real_generator_trains(setup):
    model, processor, pairs, oracle = setup
    obj = RgeObjective(pair="q_self", max_new_tokens=4, rationales=oracle)
    m = type(model)(model.config)
    m.load_state_dict(model.state_dict())
    m.train()
    out = obj(m, processor, pairs)
    out.loss.backward()
    assert m.training and torch.isfinite(out.loss)
    assert 0 < out.stats["self_tokens"] <= 4 and 0 <= out.stats["forced_emb"] <= 1
    assert m.lm_head.weight.grad is not None and m.lm_head.weight.grad.abs().sum() > 0


@pytest.mark.parametrize(
    ("pair", "alpha_lm", "expected"),
    [
        ("q_self", 0, [False, False]),  # self query, targets: no LM forward at all
        ("q_self", 1, [False, True, True]),  # + the LM-only forward over the oracle
        ("q", 0, [False, False]),
        ("q", 1, [False, True, True]),
        ("q_oracle", 0, [False, False]),  # the oracle forward is the embedding forward
        ("q_oracle", 1, [True, True]),
    ],
)
def test_forwards_run_with_lm_only_where_needed(setup, monkeypatch, pair, alpha_lm, expected):
    model, processor, pairs, oracle = setup
    seen = []

    def counting(model, batch, *, lm=True):
        seen.append(lm)
        return forward(model, batch, lm=lm)

    monkeypatch.setattr(embed_mod, "forward", counting)
    obj = RgeObjective(pair=pair, alpha_lm=alpha_lm, rationales=oracle,
                       generate_fn=fixed_generator())  # fmt: skip
    out = obj(model, processor, pairs)
    assert seen == expected
    assert (out.lm is None) == (alpha_lm == 0)


def test_missing_oracle_rationale_names_the_key(setup):
    model, processor, pairs, oracle = setup
    partial = {k: v for k, v in oracle.items() if k != pairs[1].key}
    with pytest.raises(KeyError, match=pairs[1].key):
        RgeObjective(pair="q", rationales=partial)(model, processor, pairs)
    with pytest.raises(KeyError, match=pairs[1].key):
        RgeObjective(pair="q_oracle", alpha_lm=0, rationales=partial).check_rationales(pairs)
    with pytest.raises(KeyError, match=pairs[1].key):
        LmObjective(rationales=partial).check_rationales(pairs)
    # objectives that never read the oracle do not need it
    RgeObjective(pair="q_self", alpha_lm=0).check_rationales(pairs)
    out = RgeObjective(pair="q", alpha_lm=0)(model, processor, pairs)
    assert out.lm is None and torch.isfinite(out.loss)


def test_lm_objective_is_the_token_mean_and_touches_no_embedding(setup):
    model, processor, pairs, oracle = setup
    out = LmObjective(rationales=oracle)(model, processor, pairs)
    with torch.no_grad():
        _, qs, qn, _, ts, tn = _lm_parts(model, processor, pairs, [oracle[p.key] for p in pairs])
    assert out.con is None and out.lm == pytest.approx((qs + ts).item() / (qn + tn), rel=1e-5)
    assert out.loss.item() == pytest.approx(out.lm, rel=1e-6)


def test_hard_negatives_join_the_pool_but_get_no_lm_loss(tmp_path):
    model, processor = small_model(seed=1)
    pairs = [p for p in scene_pairs(tmp_path, 8, negs=True) if p.subset == "left"]
    oracle = oracle_for(pairs)
    out = RgeObjective(pair="q", use_negatives=True, rationales=oracle)(model, processor, pairs)
    assert out.stats["candidates"] == 2 * len(pairs)
    with torch.no_grad():
        _, qs, qn, _, ts, tn = _lm_parts(model, processor, pairs, [oracle[p.key] for p in pairs])
        q = forward(model, build_batch(processor, [p.query for p in pairs]), lm=False)[0]
        t_batch = build_batch(processor, [p.pos for p in pairs] + [p.negs[0] for p in pairs])
        t_all = forward(model, t_batch, lm=False)[0]
    n = len(pairs)
    assert out.lm == pytest.approx((qs + ts).item() / (qn + tn), rel=1e-5)
    expected = info_nce(q, t_all[:n], negs=t_all[n:], temperature=0.03).item()
    assert out.con == pytest.approx(expected, rel=1e-5)
    assert IGNORE == -100


def test_config_validation_and_registry():
    obj = make_objective("rge", {"pair": "q", "alpha_lm": 2, "alpha_con": 6, "lr": 1.0})
    assert isinstance(obj, RgeObjective) and obj._weights() == (0.25, 0.75)
    assert isinstance(make_objective("lm", {"chunk_size": 3}), LmObjective)
    with pytest.raises(ValueError, match="unknown pair 'qq'"):
        RgeObjective(pair="qq")
    with pytest.raises(ValueError, match="alpha"):
        RgeObjective(alpha_lm=0, alpha_con=0)
    with pytest.raises(ValueError, match="alpha"):
        RgeObjective(alpha_lm=-1)


def test_q_self_generates_as_the_generation_block_says(setup):
    from rge.model.generation import GenerationSettings
    from rge.train.run import build_objective

    model, processor, pairs, oracle = setup
    got = []

    def gen(model, processor, items, *, max_new_tokens, batch_size=None, **how):
        got.append(how)
        return fixed_generator()(model, processor, items, max_new_tokens=max_new_tokens)

    c = {"objective": "rge", "pair": "q_self", "seed": 3, "dtype": "float32",
         "attn_implementation": "sdpa", "max_new_tokens": 6, "temperature": 0.1,
         "generation": {"engine": "static", "cap": "last_token", "dtype": "bfloat16",
                        "attn_implementation": "auto"}}  # fmt: skip
    obj = build_objective(c, oracle)
    # the training job's own dtype and attention, not the evaluation's
    want = GenerationSettings(engine="static", cap="last_token")
    assert obj.generation == want and obj.seed == 3
    obj.generate_fn = gen
    obj(model, processor, pairs)
    assert got == [{"generation": want, "seed": 3}]
    # a mapping given straight to the objective is read as the block
    assert RgeObjective(generation={"engine": "static"}).generation.engine == "static"
    with pytest.raises(ValueError, match="generation.engine"):
        RgeObjective(generation={"engine": "fast"})
