"""Gradient cache: the same parameter gradients as one full-batch forward, for every objective;
a 2-rank run with gathered candidates equals one big batch; RNG replay with dropout."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from rge.train.gradcache import Encoded, cached_backward, chunked
from rge.train.objectives import BaselineObjective, LmObjective, RgeObjective
from tests.fixtures.rge_train_helpers import (
    fixed_generator,
    max_rel_diff,
    oracle_for,
    step_grads,
    two_rank_grads,
)
from tests.fixtures.tiny_model import small_model
from tests.fixtures.train_fakes import scene_pairs

TOL = 1e-5


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    model, processor = small_model(seed=0)
    pairs = scene_pairs(tmp_path_factory.mktemp("gc"), 12, negs=True)
    left = [p for p in pairs if p.subset == "left"]  # 6 pairs of one subset (a training batch)
    return model, processor, left


def _objectives(oracle):
    common = {"temperature": 0.1, "use_negatives": True}
    gen = fixed_generator()
    return {
        "baseline": lambda c: BaselineObjective(**common, chunk_size=c),
        "rge_q": lambda c: RgeObjective(pair="q", rationales=oracle, chunk_size=c, **common),
        "rge_q_oracle": lambda c: RgeObjective(
            pair="q_oracle", rationales=oracle, chunk_size=c, alpha_lm=1, alpha_con=3, **common
        ),
        "rge_q_self": lambda c: RgeObjective(
            pair="q_self", rationales=oracle, chunk_size=c, generate_fn=gen, **common
        ),
        "rge_q_oracle_no_lm": lambda c: RgeObjective(
            pair="q_oracle", rationales=oracle, chunk_size=c, alpha_lm=0, **common
        ),
        "lm": lambda c: LmObjective(rationales=oracle, chunk_size=c),
    }


@pytest.mark.parametrize(
    "name", ["baseline", "rge_q", "rge_q_oracle", "rge_q_self", "rge_q_oracle_no_lm", "lm"]
)
def test_cache_gives_the_no_cache_gradients(setup, name):
    model, processor, pairs = setup
    make = _objectives(oracle_for(pairs))[name]
    ref_out, ref = step_grads(model, make(0), processor, pairs)
    assert not ref_out.backward_done
    for chunk in (2, 4):  # 4: an uneven last chunk
        out, got = step_grads(model, make(chunk), processor, pairs)
        assert out.backward_done
        assert max_rel_diff(got, ref) <= TOL, (name, chunk)
        assert out.loss.item() == pytest.approx(ref_out.loss.item(), rel=1e-5)
        for part in ("con", "lm"):
            a, b = getattr(out, part), getattr(ref_out, part)
            assert (a is None) == (b is None) and (a is None or a == pytest.approx(b, rel=1e-5))
        assert out.stats == pytest.approx(ref_out.stats)


@pytest.mark.parametrize("name", ["baseline", "rge_q_oracle_no_lm", "rge_q_self"])
def test_two_ranks_with_cache_equal_one_big_batch(setup, name, tmp_path):
    model, processor, pairs = setup
    # alpha_lm 0 for rge: with several ranks the LM mean is per rank (documented), so only the
    # contrastive part has a one-big-batch equivalent; q_self here also has alpha_lm 1 / 11
    oracle = oracle_for(pairs)
    make = _objectives(oracle)[name]
    if name == "rge_q_self":
        gen = fixed_generator()
        make = lambda c, g=None: RgeObjective(  # noqa: E731
            pair="q_self", alpha_lm=0, chunk_size=c, generate_fn=gen, temperature=0.1,
            use_negatives=True, **({"gather_fn": g} if g else {}),
        )  # fmt: skip
    ref_out, ref = step_grads(model, make(0), processor, pairs)

    def ranked(gather):
        obj = make(2)
        obj.gather_fn = gather
        return obj

    losses, grads = two_rank_grads(model, ranked, processor, pairs)
    assert sum(losses) / 2 == pytest.approx(ref_out.loss.item(), rel=1e-5)
    assert losses[0] != pytest.approx(losses[1], rel=1e-3)
    assert max_rel_diff(grads, ref) <= TOL


def test_dropout_masks_are_replayed():
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Dropout(0.5), torch.nn.Linear(8, 4))
    x = torch.randn(6, 4)

    def encode(rows, with_extra):
        e = F.normalize(net(rows), dim=-1)
        return Encoded(embs={"q": e, "t": e.roll(1, dims=1)})

    def loss_fn(embs):
        return F.cross_entropy(embs["q"] @ embs["t"].T / 0.1, torch.arange(len(embs["q"])))

    grads = {}
    for replay in (True, False):
        torch.manual_seed(1)
        net.zero_grad()
        cached_backward(chunked(x, 2), encode, loss_fn, replay_rng=replay)
        grads[replay] = [p.grad.clone() for p in net.parameters()]
    torch.manual_seed(1)  # the same masks as pass 1 of the cached runs
    net.zero_grad()
    whole = [encode(c, True).embs for c in chunked(x, 2)]
    loss_fn({k: torch.cat([w[k] for w in whole]) for k in ("q", "t")}).backward()
    ref = [p.grad for p in net.parameters()]
    for a, b in zip(grads[True], ref, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-7)
    assert any(not torch.allclose(a, b) for a, b in zip(grads[False], ref, strict=True))


def test_chunked_rejects_bad_sizes():
    assert [list(c) for c in chunked([1, 2, 3], 2)] == [[1, 2], [3]]
    with pytest.raises(ValueError, match="chunk size"):
        chunked([1], 0)
