"""Run Snakemake on this repository's Snakefile (or a copy's) from tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
# Not part of a checkout a user would copy: environments, outputs, caches.
NOT_COPIED = {".venv", "data", ".snakemake", ".git", ".pytest_cache", ".ruff_cache", ".dvc"}


def snakemake(
    *args: str, cwd: Path | None = None, timeout: int = 600, snakefile: Path | None = None
) -> subprocess.CompletedProcess:
    """Run snakemake with ROOT's Snakefile (or ``snakefile``) in ``cwd`` (default ROOT); the
    venv's bin first on PATH (stages call `python`)."""
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    cmd = [SNAKEMAKE, "--snakefile", str(snakefile or ROOT / "Snakefile"), *args]
    if cwd is not None:
        cmd += ["--directory", str(cwd)]
    return subprocess.run(
        cmd, cwd=cwd or ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def copy_checkout(dest: Path) -> Path:
    """A copy of this checkout's tracked tree (no outputs, caches or environment) at ``dest``."""

    def ignore(directory: str, names: list[str]) -> set[str]:
        skip = {"__pycache__"} | (NOT_COPIED if Path(directory).resolve() == ROOT else set())
        return skip & set(names)

    shutil.copytree(ROOT, dest, ignore=ignore)
    return dest


def job_counts(output: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    table = output.split("Job stats:", 1)[1]
    counts = {}
    for line in table.splitlines()[3:]:
        m = re.match(r"^(\w+)\s+(\d+)$", line.strip())
        if not m:
            break
        counts[m.group(1)] = int(m.group(2))
    return counts
