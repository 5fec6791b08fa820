"""No absolute path in any tracked param or input: a copied or moved checkout, outputs and all,
is up to date as it stands (Snakemake tracks params and the list of inputs)."""

import shutil

import pytest

from tests.workflow.snakemake_run import ROOT, copy_checkout, snakemake

CONFIGS = ["config/config.yaml", "config/smoke.yaml", "config/paper.yaml"]


@pytest.mark.parametrize("configfile", CONFIGS)
def test_no_job_names_the_checkout_by_its_absolute_path(configfile):
    proc = snakemake("-n", "-F", "-p", "--configfile", configfile)
    assert proc.returncode == 0, proc.stderr[-2000:]
    commands = [line for line in proc.stdout.splitlines() if "python -m rge.stages." in line]
    assert commands
    assert not [c for c in commands if str(ROOT) in c], "a command names the checkout's path"


@pytest.mark.slow
def test_a_moved_checkout_plans_nothing(tmp_path):
    """The smoke study's data phase up to checked rationales (it reads files shipped with the
    repository: the oracle prompts, and runs from its src), run, then moved."""
    first = copy_checkout(tmp_path / "first" / "rge")
    target = "data/smoke/check_rationales/SynObjects.jsonl"

    def run(repo, *args):
        return snakemake(
            *args, target, "--configfile", "config/smoke.yaml", cwd=repo,
            snakefile=repo / "Snakefile", timeout=900,
        )  # fmt: skip

    done = run(first, "--cores", "2")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Nothing to be done" in run(first, "-n").stdout
    moved = tmp_path / "elsewhere" / "deeper" / "rge"
    shutil.copytree(first, moved, symlinks=True)
    shutil.rmtree(first)  # the moved copy must not lean on the original
    plan = run(moved, "-n")
    assert plan.returncode == 0, plan.stderr[-3000:]
    assert "Nothing to be done" in plan.stdout + plan.stderr, plan.stdout[-3000:]
