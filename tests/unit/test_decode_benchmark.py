"""The engines' decode benchmark runs on the CPU (tiny model) and reports per decode step what
the issue asks for: the static step reads nothing back to the host, the dynamic loop does."""

from __future__ import annotations

import importlib
import re
import sys
from pathlib import Path

import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def test_decode_only_smoke(monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCH))
    threads = torch.get_num_threads()
    try:
        speedup = importlib.import_module("reasoning_embed").main(["--smoke", "--decode-only"])
    finally:
        torch.set_num_threads(threads)
        for name in ("reasoning_embed", "decode_bench", "gpu_step", "train_step"):
            sys.modules.pop(name, None)
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"decode speedup: {speedup:.2f}" and speedup > 0
    stats = {}
    for line in lines:
        m = re.match(r"\s*(\w+) engine, batch 4, cap 6: (\S+) ms .*, (\S+) kernel ops issued, "
                     r"(\S+) host syncs", line)  # fmt: skip
        if m:
            stats[m.group(1)] = [float(x) for x in m.groups()[1:]]
    assert stats["static"][2] == 0  # cap 6 < sync_every 8: not even the periodic done read
    assert stats["dynamic"][2] >= 3
    assert stats["static"][1] <= 1.1 * stats["dynamic"][1]
