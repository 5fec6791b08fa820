"""The training benchmarks run end to end on the CPU (tiny model): gpu_step's dry run and
train_step's smoke mode print a part table and a ratio."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    n = torch.get_num_threads()
    yield lambda name: importlib.import_module(name)
    torch.set_num_threads(n)
    for name in ("gpu_step", "train_step", "job_threads"):
        sys.modules.pop(name, None)


def _check(out: dict, printed: str) -> None:
    for name in ("baseline", "rge q_self"):
        ms = out["results"][name]["ms"]
        assert ms["total"] > 0 and all(v >= 0 for k, v in ms.items() if k != "other")
    assert out["results"]["baseline"]["ms"]["generation"] == 0
    assert out["results"]["rge q_self"]["ms"]["generation"] > 0
    assert "| generation |" in printed and printed.strip().splitlines()[-1].startswith("ratio: ")
    assert out["ratio"] > 0


def test_gpu_step_cpu_tiny_dry_run(bench, capsys):
    torch.set_num_threads(1)
    out = bench("gpu_step").main(["--cpu-tiny", "--batch-size", "4", "--chunk-size", "2",
                                  "--max-new-tokens", "4"])  # fmt: skip
    _check(out, capsys.readouterr().out)


def test_train_step_smoke(bench, capsys):
    out = bench("train_step").main(["--smoke", "--threads", "1"])
    _check(out, capsys.readouterr().out)


def test_job_threads_runs_both_ways(bench, capsys):
    ratio = bench("job_threads").main(
        ["--steps", "1", "--batch-size", "4", "--max-new-tokens", "4"]
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert any("two threads each" in ln for ln in lines)
    assert any("one thread each" in ln for ln in lines)
    assert lines[-1] == f"ratio: {ratio:.2f}" and ratio > 0
