"""The paper plan on a cluster, without one: GPU rules sized and launched, evaluation groups that
fit the GPU partition's time limit, the placeholder account refused.

A stand-in `sbatch` (with `sacctmgr`, `squeue`, `sinfo`) on PATH records the arguments the
SLURM profile's plugin gives it and refuses the job, as a partition would; the real one-node
SLURM runs in tests/workflow/test_slurm.py.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflow.snakemake_run import SNAKEMAKE, copy_checkout
from tests.workflow.test_readme_commands import make_outputs

PROFILE = "workflow/profiles/slurm"
PAPER = "config/paper.yaml"
GPU_RULES = {"oracle_rationales", "cold_start", "train_run", "leakage_curves", "embed_eval",
             "score_retrieval"}  # fmt: skip
TRAINING_RULES = {"cold_start", "train_run", "leakage_curves"}  # through rge.launch
JOB = re.compile(r"^\s*(?:local)?rule (\w+):$")
STAND_INS = {
    "sbatch": 'echo "$*" >> "$SBATCH_RECORD"\n'
    'echo "sbatch: error: Batch job submission failed: Invalid partition name specified" >&2\n'
    "exit 1\n",
    "sacctmgr": "echo rge_test\n",
    "squeue": "exit 0\n",
    "sinfo": "exit 0\n",
}


def partition_limit(profile: Path) -> int:
    """The GPU partition's time limit (minutes) the profile names."""
    m = re.search(r"(?m)^# GPU partition time limit \(minutes.*\): (\d+)$", profile.read_text())
    assert m, f"{profile}: names no GPU partition time limit"
    return int(m.group(1))


def smk(cwd: Path, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        **(env or {}),
    }
    cmd = [SNAKEMAKE, "--snakefile", str(cwd / "Snakefile"), *args]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


def gpu_problems(dry_run: str) -> list[str]:
    """What a `-n -p` plan of the paper study gets wrong about GPUs, one message per rule."""
    problems, rule = set(), None
    for line in dry_run.splitlines():
        if m := JOB.match(line):
            rule = m.group(1)
        elif rule in GPU_RULES and line.strip().startswith("resources:"):
            if not re.search(r"\b(gpu=\d|gres=gpu:\d)", line):
                problems.add(f"{rule}: no GPU resources (gpu or gres)")
        elif rule in TRAINING_RULES and line.startswith("Shell command:"):
            if "python -m rge.launch -- " not in line:
                problems.add(f"{rule}: does not train through rge.launch")
    return sorted(problems)


def test_every_gpu_rule_has_gpus_and_training_goes_through_the_launcher(tmp_path):
    tree = copy_checkout(tmp_path / "rge")
    plan = smk(tree, "-n", "-p", "--profile", PROFILE, "--configfile", PAPER)
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert {m.group(1) for m in map(JOB.match, plan.stdout.splitlines()) if m} >= GPU_RULES
    assert gpu_problems(plan.stdout) == []
    # ... and the check refuses a GPU rule sized like a CPU one (leakage_curves before this fix)
    text = (tree / PAPER).read_text()
    unsized = re.sub(r"(?m)^  leakage_curves: .*\n", "", text)
    assert unsized != text
    (tree / "config/unsized.yaml").write_text(unsized)
    plan = smk(tree, "-n", "-p", "--profile", PROFILE, "--configfile", "config/unsized.yaml")
    assert gpu_problems(plan.stdout) == ["leakage_curves: no GPU resources (gpu or gres)"]


def stand_in_bin(path: Path) -> Path:
    path.mkdir()
    for name, body in STAND_INS.items():
        (path / name).write_text("#!/bin/sh\n" + body)
        (path / name).chmod(0o755)
    return path


def test_placeholder_account_stops_the_submission(tmp_path):
    tree = copy_checkout(tmp_path / "rge")
    record = tmp_path / "sbatch.txt"
    env = {"PATH": f"{stand_in_bin(tmp_path / 'bin')}:{Path(sys.executable).parent}:"
           f"{os.environ['PATH']}", "SBATCH_RECORD": str(record)}  # fmt: skip
    proc = smk(tree, "--profile", PROFILE, "--configfile", PAPER, env=env)
    assert proc.returncode != 0
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    assert errors == [
        "config error: slurm_account: my_project is the profile's placeholder; set "
        "default-resources: slurm_account in workflow/profiles/slurm/config.yaml to your "
        "account (`sacctmgr show assoc user=$USER`) or pass --default-resources "
        "slurm_account=<account>"
    ], proc.stderr[-2000:]
    assert not record.exists()  # nothing submitted


@pytest.mark.slow
def test_evaluation_groups_fit_the_gpu_partition(tmp_path):
    """Every evaluation of the finished paper study redone: one sbatch per group of pieces, each
    asking for a time inside the partition's limit, on the GPU partition."""
    tree = make_outputs(copy_checkout(tmp_path / "rge"), PAPER)
    profile = tree / PROFILE / "config.yaml"
    profile.write_text(profile.read_text().replace('"my_project"', '"rge_test"'))  # your account
    record = tmp_path / "sbatch.txt"
    env = {"PATH": f"{stand_in_bin(tmp_path / 'bin')}:{Path(sys.executable).parent}:"
           f"{os.environ['PATH']}", "SBATCH_RECORD": str(record)}  # fmt: skip
    plan = smk(tree, "phase_evaluate", "-n", "--configfile", PAPER, "--forcerun", "embed_eval")
    pieces = plan.stdout.count("rule embed_eval:")
    assert pieces > 3
    proc = smk(tree, "phase_evaluate", "--profile", PROFILE, "--configfile", PAPER,
               "--forcerun", "embed_eval", env=env)  # fmt: skip
    assert proc.returncode != 0  # the stand-in refuses every job
    calls = record.read_text().splitlines()
    group = int(re.search(r"(?m)^\s+- evaluate=(\d+)", profile.read_text()).group(1))
    tries = 1 + int(re.search(r"(?m)^retries: (\d+)", profile.read_text()).group(1))
    assert len(calls) == math.ceil(pieces / group) * tries
    limit = partition_limit(profile)
    for call in calls:
        assert "--comment rule_evaluate_embed_eval_score_mmeb" in call, call[:300]
        assert " -p gpu " in call and " -A rge_test " in call and "--gpus=1" in call
        minutes = int(re.search(r" -t (\d+) ", call).group(1))
        assert minutes <= limit, f"a group asks -t {minutes} > the partition's {limit}"
