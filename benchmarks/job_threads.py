"""Two training jobs on a 2-core machine: one after the other with two threads each, or both at
once with one thread each (the embedded config's choice). Wall time of each way, same work.

Each job is ``benchmarks/train_step.py`` (the embedded study's RGE q_self step shape: batch 16,
40 new tokens) in its own process, so imports and model building are timed too, as in the
study's jobs.

    python benchmarks/job_threads.py [--steps 8] [--batch-size 16] [--max-new-tokens 40]

The last line printed is ``ratio: X.XX`` (sequential two-thread wall / concurrent one-thread
wall; above 1 means running one-thread jobs two at a time finishes sooner).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

STEP = Path(__file__).resolve().parent / "train_step.py"


def job(threads: int, args: argparse.Namespace) -> subprocess.Popen:
    """Start one train_step.py process with ``threads`` torch/OpenMP threads."""
    cmd = [sys.executable, str(STEP), "--threads", str(threads), "--steps", str(args.steps),
           "--batch-size", str(args.batch_size), "--max-new-tokens", str(args.max_new_tokens)]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wall(groups: list[list[int]], args: argparse.Namespace) -> float:
    """Seconds to run the groups one after another, the jobs of a group at once."""
    start = time.perf_counter()
    for threads in groups:
        procs = [job(t, args) for t in threads]
        for p in procs:
            if p.wait() != 0:
                raise SystemExit(f"job_threads: {STEP.name} exited with {p.returncode}")
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> float:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--max-new-tokens", type=int, default=40)
    args = ap.parse_args(argv)
    sequential = wall([[2], [2]], args)
    concurrent = wall([[1, 1]], args)
    print(f"{os.cpu_count()} CPUs; two jobs of {args.steps} baseline + {args.steps} RGE steps "
          f"(batch {args.batch_size}, {args.max_new_tokens} new tokens) each")  # fmt: skip
    print(f"one after the other, two threads each: {sequential:.1f} s")
    print(f"both at once, one thread each:         {concurrent:.1f} s")
    ratio = sequential / concurrent
    print(f"ratio: {ratio:.2f}")
    return ratio


if __name__ == "__main__":
    main()
