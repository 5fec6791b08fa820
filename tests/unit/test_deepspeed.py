"""DeepSpeed glue: config filling (fast) and a single-process ZeRO-2 run on the CPU that matches
the plain loop, with the gradient cache and a resume from an engine checkpoint (slow: the first
use JIT-compiles DeepSpeed's ops for about a minute, cached under ~/.cache/torch_extensions)."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
import torch

from rge.train import distributed
from rge.train.loop import LoopSettings, train
from rge.train.objectives import RgeObjective
from tests.fixtures.rge_train_helpers import fixed_generator, oracle_for
from tests.fixtures.tiny_model import small_model
from tests.fixtures.train_fakes import scene_pairs

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", ["zero2.json", "zero3.json"])
def test_shipped_configs_fill_completely(name, monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    raw = distributed.load_config(ROOT / "workflow" / "deepspeed" / name)
    assert raw["zero_optimization"]["stage"] == int(name[4])
    for on_gpu in (True, False):
        cfg = distributed.fill_config(raw, batch_size=8, grad_clip=0.5, on_gpu=on_gpu)
        assert "auto" not in json.dumps(cfg)
        assert cfg["train_batch_size"] == cfg["train_micro_batch_size_per_gpu"] == 8
        assert cfg["gradient_accumulation_steps"] == 1 and cfg["gradient_clipping"] == 0.5
        assert cfg["bf16"]["enabled"] is on_gpu
        assert cfg["managed_gradient_accumulation"] is False
    assert raw["train_batch_size"] == "auto"  # the input is not modified


def test_world_size_splits_the_batch_and_decides_use(monkeypatch, tmp_path):
    monkeypatch.setenv("WORLD_SIZE", "4")
    cfg = distributed.fill_config(
        distributed.DEFAULT_CONFIG, batch_size=8, grad_clip=1, on_gpu=True
    )
    assert cfg["train_micro_batch_size_per_gpu"] == 2 and cfg["train_batch_size"] == 8
    with pytest.raises(ValueError, match="not divisible by WORLD_SIZE 4"):
        distributed.fill_config(distributed.DEFAULT_CONFIG, batch_size=6, grad_clip=1, on_gpu=True)
    assert distributed.wanted(None)
    monkeypatch.setenv("WORLD_SIZE", "1")
    assert not distributed.wanted(None) and distributed.wanted("zero2.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="bad.json"):
        distributed.load_config(bad)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Killed(Exception):
    pass


@pytest.mark.slow
def test_zero2_single_process_matches_the_plain_loop_and_resumes(tmp_path, monkeypatch):
    import torch.distributed as dist

    for k, v in {"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(_free_port()), "RANK": "0",
                 "WORLD_SIZE": "1", "LOCAL_RANK": "0"}.items():  # fmt: skip
        monkeypatch.setenv(k, v)
    torch.set_num_threads(1)
    pairs = scene_pairs(tmp_path / "img", 8, negs=True)
    settings = LoopSettings(batch_size=4, max_steps=2, lr=3e-3, grad_clip=0.5, seed=0,
                            checkpoint_every=1)  # fmt: skip
    ds_cfg = distributed.fill_config(
        distributed.load_config(ROOT / "workflow" / "deepspeed" / "zero2.json"),
        batch_size=4, grad_clip=0.5, on_gpu=False,
    )  # fmt: skip

    def objective():
        return RgeObjective(pair="q_self", chunk_size=2, temperature=0.1, use_negatives=True,
                            rationales=oracle_for(pairs), generate_fn=fixed_generator())  # fmt: skip

    def run(work: Path, ds: dict | None):
        model, processor = small_model(seed=0)
        stats = train(model, processor, pairs, objective(), settings, work_dir=work,
              progress=False, deepspeed_config=ds)  # fmt: skip
        rows = [json.loads(r) for r in (work / "log.jsonl").read_text().splitlines()]
        return model, rows, stats

    try:
        plain_model, plain, _ = run(tmp_path / "plain", None)
        ds_model, ds, _ = run(tmp_path / "ds", ds_cfg)
        assert [r["step"] for r in ds] == [1, 2]
        for a, b in zip(plain, ds, strict=True):
            for part in ("loss", "con", "lm", "grad_norm"):
                assert b[part] == pytest.approx(a[part], rel=1e-4), part
        for (name, p), q in zip(plain_model.named_parameters(), ds_model.parameters(), strict=True):
            torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-6, msg=name)

        # killed during step 2 (engine checkpoint of step 1 on disk), then resumed
        real, calls = RgeObjective.__call__, [0]

        def dying(self, *args, **kwargs):
            calls[0] += 1
            if calls[0] == 2:
                raise _Killed
            return real(self, *args, **kwargs)

        monkeypatch.setattr(RgeObjective, "__call__", dying)
        with pytest.raises(_Killed):
            run(tmp_path / "cut", ds_cfg)
        assert (tmp_path / "cut" / "checkpoints" / "step-00000001").is_dir()
        monkeypatch.setattr(RgeObjective, "__call__", real)
        _, resumed, stats = run(tmp_path / "cut", ds_cfg)
        assert stats["resumed_from_step"] == 1 and calls[0] == 2
        assert [r["loss"] for r in resumed] == pytest.approx([r["loss"] for r in ds], rel=1e-6)
        assert resumed[-1]["step"] == 2
    finally:
        if dist.is_initialized():
            dist.destroy_process_group()
