"""The smoke DAG's training + evaluation through a real SLURM (one node, loopback only).

A private cluster (.ci/slurm/start.sh: munged + slurmctld + slurmd, one fake GPU) runs
train_run (through rge.launch) and the `evaluate` group via the shipped profile
workflow/profiles/slurm (only partition, account and test speed settings overridden). The same
targets also run locally from the same upstream outputs; the numbers must agree.
Skipped, with the reason, where the SLURM/munge daemons are not installed or not usable (CI
installs them: .ci/run). Every Snakemake call is wrapped in `timeout -k`.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.workflow.snakemake_run import ROOT, SNAKEMAKE

pytestmark = pytest.mark.slow

# A small slice of the smoke study: 2 subsets, 2 eval tasks; the baseline run and its scores.
KNOBS = ["--config", "train_subsets=SynObjects,SynColorQA", "eval_tasks=SynObjects,SynColorQA"]
TARGETS = [
    "data/smoke/train_run/baseline/summary.json",
    "data/smoke/score_mmeb/baseline/direct.json",
]
# Fewer steps than the smoke config (merged over it): the numbers only need to agree.
SHORTER = {"backbone": {"pretrain": {"warmup_steps": 4, "caption_steps": 4, "probe_scenes": 4}},
           "train": {"max_steps": 3}}  # fmt: skip
SLURM_TIMEOUT = 300  # seconds for the whole SLURM run (it takes ~1.5 min)
# Keys that legitimately differ between two runs of the same job (wall clock, host).
VOLATILE = ("seconds", "time", "ms_per", "wall", "date", "host", "elapsed")


def _why_not_slurm() -> str | None:
    missing = [
        t for t in ("munged", "slurmctld", "slurmd", "sbatch", "squeue") if not shutil.which(t)
    ]
    if missing:
        return f"SLURM/munge not installed ({', '.join(missing)} missing; apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "the private SLURM test cluster needs root"
    try:
        addr = socket.gethostbyname(socket.gethostname())
    except OSError as err:
        return f"hostname does not resolve ({err})"
    if not addr.startswith("127."):
        return f"hostname resolves to {addr}, not loopback: no private cluster here"
    try:
        import snakemake_executor_plugin_slurm  # noqa: F401
    except ImportError:
        return "snakemake-executor-plugin-slurm is not installed"
    return None


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    reason = _why_not_slurm()
    if reason:
        pytest.skip(reason)
    state = tmp_path_factory.mktemp("slurm")
    try:
        start = subprocess.run([ROOT / ".ci/slurm/start.sh", state], capture_output=True,
                               text=True, timeout=60, check=False)  # fmt: skip
        assert start.returncode == 0, start.stdout + start.stderr
        yield state
    finally:
        subprocess.run([ROOT / ".ci/slurm/stop.sh", state], timeout=60, check=False)


def _env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}


def _snakemake(workdir: Path, *args: str, timeout: int) -> list[str]:
    return ["timeout", "-k", "10", str(timeout), SNAKEMAKE, "--snakefile", str(ROOT / "Snakefile"),
            "--directory", str(workdir), *args]  # fmt: skip


def _test_profile(dest: Path) -> Path:
    """The shipped profile with this cluster's partition/account and quicker status checks."""
    profile = yaml.safe_load((ROOT / "workflow/profiles/slurm/config.yaml").read_text())
    profile["default-resources"].update(slurm_partition="debug", slurm_account="rge-ci")
    # One partition here: the GPU rules' `gpu` partition is this cluster's `debug` too.
    profile["set-resources"] = [
        s.replace('slurm_partition="gpu"', 'slurm_partition="debug"')
        for s in profile.get("set-resources", [])
    ]
    profile.update({
        "slurm-init-seconds-before-status-checks": 1,  # tiny jobs: poll early
        "slurm-keep-successful-logs": True,  # so the test can read them
        "latency-wait": 5, "retries": 0, "keep-going": False,
    })  # fmt: skip
    dest.mkdir(parents=True)
    (dest / "config.yaml").write_text(yaml.safe_dump(profile))
    return dest


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """(local workdir, SLURM workdir): the same targets, from the same upstream outputs."""
    base = tmp_path_factory.mktemp("dag")
    (base / "shorter.yaml").write_text(yaml.safe_dump(SHORTER))
    smoke = ["--configfile", str(ROOT / "config/smoke.yaml"), str(base / "shorter.yaml")]
    prefix = base / "prefix"
    # Data + backbone once, locally (not what this test is about).
    up = subprocess.run(_snakemake(prefix, "--cores", "2", *TARGETS, *smoke, *KNOBS,
                                   "--omit-from", "train_run", timeout=400),
                        env=_env(), capture_output=True, text=True, check=False)  # fmt: skip
    assert up.returncode == 0, up.stdout[-3000:] + up.stderr[-5000:]
    local, remote = base / "local", base / "slurm"
    shutil.copytree(prefix, local, symlinks=True)
    shutil.copytree(prefix, remote, symlinks=True)
    profile = _test_profile(base / "profile")
    # On SLURM: every job asks for the fake GPU (checks --gpus and the group's GPU scoping).
    gpus = ["--set-resources", "train_run:gpu=1", "embed_eval:gpu=1"]
    started = time.monotonic()
    slurm = subprocess.Popen(
        _snakemake(remote, "--profile", str(profile), "--jobs", "2", *TARGETS, *smoke, *KNOBS,
                   *gpus, timeout=SLURM_TIMEOUT),
        env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        here = subprocess.run(_snakemake(local, "--cores", "2", *TARGETS, *smoke, *KNOBS,
                                         timeout=400),
                              env=_env(), capture_output=True, text=True, check=False)  # fmt: skip
        out, _ = slurm.communicate(timeout=SLURM_TIMEOUT + 30)
    finally:
        if slurm.poll() is None:
            slurm.kill()
    assert here.returncode == 0, here.stdout[-3000:] + here.stderr[-5000:]
    assert slurm.returncode == 0, f"rc {slurm.returncode}:\n{out[-8000:]}"
    print(f"SLURM run: {time.monotonic() - started:.0f} s")
    return local, remote, out


def _stable(obj):
    """A JSON value without the keys that differ between two runs of the same job."""
    if isinstance(obj, dict):
        return {k: _stable(v) for k, v in obj.items() if not any(w in k for w in VOLATILE)}
    if isinstance(obj, list):
        return [_stable(v) for v in obj]
    return obj


def _json(path: Path):
    return _stable(json.loads(path.read_text()))


def test_jobs_went_through_slurm(runs):
    _, remote, out = runs
    assert "sbatch call" in out or "Job " in out
    logs = remote / "data/logs/slurm"
    rules = {p.name for p in logs.iterdir()}
    assert "rule_train_run" in rules, rules
    assert any(r.startswith("group_evaluate") for r in rules), rules
    train_log = next((logs / "rule_train_run").rglob("*.log")).read_text()
    # The rule's launcher ran inside the SLURM job, saw the allocation's one (fake) GPU and
    # ran the stage directly (one node, one GPU).
    assert "rge.launch (direct)" in train_log, train_log[-3000:]


def test_training_matches_the_local_run(runs):
    local, remote, _ = runs
    for name in ("summary.json",):
        a = _json(local / "data/smoke/train_run/baseline" / name)
        b = _json(remote / "data/smoke/train_run/baseline" / name)
        assert a == b
    steps = [
        [_stable(json.loads(line)) for line in (root / "data/smoke/train_run/baseline/train_log.jsonl")
         .read_text().splitlines()]
        for root in (local, remote)
    ]  # fmt: skip
    assert steps[0] == steps[1] and len(steps[0]) > 0


def test_scores_match_the_local_run(runs):
    local, remote, _ = runs
    files = sorted((local / "data/smoke/embed_eval/baseline/direct").glob("*.json"))
    assert [f.name for f in files] == ["SynColorQA.json", "SynObjects.json"]
    for f in files:
        assert _json(f) == _json(remote / "data/smoke/embed_eval/baseline/direct" / f.name)
    summary = "data/smoke/score_mmeb/baseline/direct.json"
    assert _json(local / summary) == _json(remote / summary)
