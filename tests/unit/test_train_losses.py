"""info_nce and lm_mean against numbers worked out by hand, and the 2-rank gather simulation."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from rge.train.losses import info_nce, lm_mean


def test_info_nce_2x2_identity():
    # logits = I / 0.5 = [[2, 0], [0, 2]]: each row is -log(e^2 / (e^2 + e^0)) = log(1 + e^-2)
    eye = torch.eye(2)
    loss = info_nce(eye, eye, temperature=0.5)
    assert loss.item() == pytest.approx(math.log(1 + math.exp(-2)), abs=1e-6)


def test_info_nce_3x3_asymmetric():
    # cos matrix rows: q0=(1,0) vs t=(1,0),(0.6,0.8),(0,1) -> 1, .6, 0 ; q1=(0,1) -> 0, .8, 1
    # q2=(0.6,0.8) -> .6, 1, .8 ; temperature 1
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.6, 0.8]])
    t = torch.tensor([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]])
    e = math.exp
    row0 = -1 + math.log(e(1) + e(0.6) + e(0))
    row1 = -0.8 + math.log(e(0) + e(0.8) + e(1))
    row2 = -0.8 + math.log(e(0.6) + e(1) + e(0.8))
    loss = info_nce(q, t, temperature=1.0)
    assert loss.item() == pytest.approx((row0 + row1 + row2) / 3, abs=1e-6)


def test_info_nce_hard_negatives_are_shared_extra_columns():
    # q0=(1,0), q1=(0,1); t0=(1,0), t1=(0.6,0.8); one negative (0,1) seen by both queries
    q = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    t = torch.tensor([[1.0, 0.0], [0.6, 0.8]])
    negs = torch.tensor([[0.0, 1.0]])
    e = math.exp
    row0 = -1 + math.log(e(1) + e(0.6) + e(0))
    row1 = -0.8 + math.log(e(0) + e(0.8) + e(1))
    loss = info_nce(q, t, temperature=1.0, negs=negs)
    assert loss.item() == pytest.approx((row0 + row1) / 2, abs=1e-6)
    # an empty pool changes nothing
    no_negs = info_nce(q, t, temperature=1.0, negs=torch.zeros(0, 2))
    assert no_negs.item() == pytest.approx(info_nce(q, t, temperature=1.0).item(), abs=1e-7)


def test_info_nce_chance_level_is_log_batch():
    # identical embeddings everywhere: every candidate equally likely -> ln B
    x = F.normalize(torch.ones(5, 3), dim=-1)
    assert info_nce(x, x, temperature=0.03).item() == pytest.approx(math.log(5), abs=1e-5)


def _fake_gather(rank: int, fulls: list[torch.Tensor], n_local: list[int]):
    """Gather for a simulated rank: the k-th call returns the k-th full tensor, whose own shard
    is the tensor passed in (as torch.distributed.nn's all_gather keeps the local autograd edge)."""
    calls = iter(range(len(fulls)))

    def gather(x: torch.Tensor) -> tuple[torch.Tensor, int]:
        k = next(calls)
        n = n_local[k]
        shards = [fulls[k][i * n : (i + 1) * n] for i in range(fulls[k].shape[0] // n)]
        shards[rank] = x
        return torch.cat(shards), rank * n

    return gather


def test_info_nce_two_rank_gather_equals_one_big_batch():
    g = torch.Generator().manual_seed(0)
    q = F.normalize(torch.randn(6, 4, generator=g), dim=-1).requires_grad_()
    t = F.normalize(torch.randn(6, 4, generator=g), dim=-1).requires_grad_()
    negs = F.normalize(torch.randn(4, 4, generator=g), dim=-1).requires_grad_()
    big = info_nce(q, t, temperature=0.1, negs=negs)
    grads_big = torch.autograd.grad(big, (q, t, negs))

    rank_losses = []
    for r in range(2):
        gather = _fake_gather(r, [t, negs], [3, 2])
        sl, sn = slice(3 * r, 3 * r + 3), slice(2 * r, 2 * r + 2)
        rank_losses.append(info_nce(q[sl], t[sl], temperature=0.1, negs=negs[sn], gather_fn=gather))
    # DDP averages gradients over ranks: the objective is the mean of the rank losses
    mean = torch.stack(rank_losses).mean()
    assert mean.item() == pytest.approx(big.item(), abs=1e-6)
    assert rank_losses[0].item() != pytest.approx(rank_losses[1].item(), abs=1e-4)
    for a, b in zip(torch.autograd.grad(mean, (q, t, negs)), grads_big, strict=True):
        torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-5)


def test_info_nce_rejects_bad_shapes():
    with pytest.raises(ValueError, match="q and t"):
        info_nce(torch.zeros(2, 3), torch.zeros(3, 3), temperature=0.1)
    with pytest.raises(ValueError, match="negs"):
        info_nce(torch.zeros(2, 3), torch.zeros(2, 3), temperature=0.1, negs=torch.zeros(2, 4))
    with pytest.raises(ValueError, match="temperature"):
        info_nce(torch.zeros(2, 3), torch.zeros(2, 3), temperature=0.0)


def test_lm_mean_weights_tokens_not_sequences():
    # query side: 3 tokens summing to 6.0 (mean 2); target side: 1 token of 1.0
    # token-weighted: (6 + 1) / 4 = 1.75, not the per-side mean (2 + 1) / 2 = 1.5
    s = torch.tensor(6.0, requires_grad=True)
    out = lm_mean([s, 1.0], [3, torch.tensor(1)])
    assert out.item() == pytest.approx(1.75)
    out.backward()
    assert s.grad.item() == pytest.approx(0.25)


def test_lm_mean_zero_tokens_and_mismatch():
    assert lm_mean([torch.tensor(0.0)], [0]).item() == 0.0
    assert lm_mean([], []).item() == 0.0
    with pytest.raises(ValueError, match="counts"):
        lm_mean([1.0], [1, 2])


def test_dist_gather_in_a_one_process_group(tmp_path):
    import torch.distributed as dist

    from rge.train.losses import dist_gather

    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'pg'}", rank=0, world_size=1)
    try:
        q = F.normalize(torch.randn(3, 4), dim=-1)
        t = F.normalize(torch.randn(3, 4), dim=-1).requires_grad_()
        all_t, offset = dist_gather(t)
        assert offset == 0 and torch.equal(all_t, t)
        loss = info_nce(q, t, temperature=0.1, gather_fn=dist_gather)
        loss.backward()  # gradients flow back through the collective
        assert loss.item() == pytest.approx(info_nce(q, t, temperature=0.1).item(), abs=1e-6)
        assert t.grad is not None and t.grad.abs().sum() > 0
    finally:
        dist.destroy_process_group()


def _rank_grads(rank: int, init: str, out: str) -> None:
    """Worker of the two-process test: this rank's loss and its parameter gradient."""
    import torch.distributed as dist

    from rge.train.losses import dist_gather

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=2)
    g = torch.Generator().manual_seed(0)
    w = torch.randn(4, 4, generator=g).requires_grad_()  # a shared "parameter"
    x_q, x_t = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    sl = slice(3 * rank, 3 * rank + 3)
    q, t = F.normalize(x_q[sl] @ w, dim=-1), F.normalize(x_t[sl] @ w, dim=-1)
    loss = info_nce(q, t, temperature=0.1, gather_fn=dist_gather)
    loss.backward()
    dist.all_reduce(w.grad)  # what DDP does: average parameter gradients over ranks
    torch.save({"loss": loss.detach(), "grad": w.grad / 2}, f"{out}.{rank}")
    dist.destroy_process_group()


def test_dist_gather_two_processes_match_one_big_batch(tmp_path):
    import torch.multiprocessing as mp

    out = str(tmp_path / "res")
    mp.spawn(_rank_grads, args=(f"file://{tmp_path / 'pg'}", out), nprocs=2, join=True)
    res = [torch.load(f"{out}.{r}", weights_only=True) for r in range(2)]
    g = torch.Generator().manual_seed(0)
    w = torch.randn(4, 4, generator=g).requires_grad_()
    x_q, x_t = torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)
    big = info_nce(F.normalize(x_q @ w, dim=-1), F.normalize(x_t @ w, dim=-1), temperature=0.1)
    big.backward()
    assert (res[0]["loss"] + res[1]["loss"]).item() / 2 == pytest.approx(big.item(), abs=1e-6)
    torch.testing.assert_close(res[0]["grad"], w.grad, atol=1e-6, rtol=1e-5)
    torch.testing.assert_close(res[1]["grad"], w.grad, atol=1e-6, rtol=1e-5)
