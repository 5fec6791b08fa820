"""The reasoning-mode benchmark runs end to end (``--smoke``) and reports its speedup last."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "reasoning_embed.py"


def test_benchmark_smoke(capsys):
    spec = importlib.util.spec_from_file_location("reasoning_embed", SCRIPT)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    speedup = bench.main(["--smoke"])
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[-1] == f"speedup: {speedup:.2f}" and speedup > 0
    assert re.fullmatch(r"speedup: \d+\.\d\d", lines[-1])
    # both paths embed the same sequences where the model wrote <emb> itself
    diff = next(line for line in lines if line.startswith("same embedding"))
    n_rows, max_diff = re.search(r"\((\d+) rows\): max \|diff\| (\S+)", diff).groups()
    assert int(n_rows) > 0 and float(max_diff) <= 1e-4
