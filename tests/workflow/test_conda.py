"""--use-conda end to end with the stand-in conda (.ci/fake-conda): env files parse, Snakemake
creates the rules' environments and runs the jobs inside them.

This proves the wiring only; the stand-in builds a virtualenv + pip instead of a conda solve
(see .ci/fake-conda/fake_conda.py and README "Running on a cluster").
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.workflow.snakemake_run import ROOT, SNAKEMAKE

pytestmark = pytest.mark.slow

FAKE_CONDA = ROOT / ".ci/fake-conda/bin"
# What a checkout needs for the study (the env file installs the repository from `../..`).
REPO_PARTS = ("Snakefile", "pyproject.toml", "README.md", "rules", "workflow", "config", "src")

PROBE = """
rule probe:
    output: "probe.txt"
    conda: "workflow/envs/train.yaml"
    shell: "python -c 'import sys, rge; print(sys.prefix); print(rge.__file__)' > {output}"
"""


def _copy_repo(dest: Path) -> Path:
    """A scratch checkout: the env file's `-e ../..` resolves to the working directory."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", ".snakemake")
    for part in REPO_PARTS:
        src = ROOT / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=ignore)
        else:
            shutil.copy2(src, dest / part)
    return dest


def _snakemake(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        # The stand-in first on PATH, then the venv (snakemake itself, as in CI).
        "PATH": f"{FAKE_CONDA}:{Path(sys.executable).parent}:{os.environ['PATH']}",
        "RGE_FAKE_CONDA_PYTHON": sys.executable,
    }
    cmd = ["timeout", "-k", "10", "300", SNAKEMAKE, "--use-conda", "--cores", "2", *args]
    return subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True, check=False)


@pytest.fixture(scope="module")
def conda_run(tmp_path_factory):
    workdir = _copy_repo(tmp_path_factory.mktemp("conda"))
    proc = _snakemake(workdir, "data/smoke/make_synthetic", "--configfile", "config/smoke.yaml")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-6000:]
    (workdir / "probe.smk").write_text(PROBE)
    probe = _snakemake(workdir, "--snakefile", "probe.smk")
    assert probe.returncode == 0, probe.stdout[-4000:] + probe.stderr[-6000:]
    return workdir, proc.stdout + proc.stderr


def _envs(workdir: Path) -> list[Path]:
    return sorted(p for p in (workdir / ".snakemake/conda").iterdir() if p.is_dir())


def test_rule_env_is_created_from_its_env_file(conda_run):
    workdir, log = conda_run
    envs = _envs(workdir)
    assert len(envs) == 1, envs  # every rule of the smoke slice uses workflow/envs/train.yaml
    assert (envs[0] / "bin/python").exists()
    copied = Path(f"{envs[0]}.yaml").read_text()
    assert copied == (ROOT / "workflow/envs/train.yaml").read_text()
    assert "Creating conda environment workflow/envs/train.yaml" in log


def test_jobs_run_inside_the_env(conda_run):
    workdir, _ = conda_run
    prefix, rge_file = (workdir / "probe.txt").read_text().split()
    assert Path(prefix) == _envs(workdir)[0]
    # rge comes from the env's own editable install of this checkout (`-e ../..`).
    assert Path(rge_file).is_relative_to(workdir / "src")


def test_the_stage_ran(conda_run):
    workdir, _ = conda_run
    assert any((workdir / "data/smoke/make_synthetic").iterdir())
