"""Dry runs with seeds: replicates trained, pooled, and the tables reading the pooled files."""

from __future__ import annotations

import re

import pytest

from tests.workflow.snakemake_run import job_counts, snakemake


def plan(configfile: str, *targets: str) -> str:
    proc = snakemake("-n", "-F", f"--configfile={configfile}", *targets)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def jobs_of(text: str, rule: str) -> list[str]:
    """The dry run's job blocks of ``rule`` (from ``rule <name>:`` to the next job's time
    stamp; a grouped job's block is indented)."""
    start = rf"^[ \t]*(?:local)?rule {rule}:\n"
    return re.findall(start + r"(.*?)(?=^[ \t]*\[|^\S|\Z)", text, flags=re.M | re.S)


@pytest.mark.parametrize(
    ("configfile", "root", "seeds", "pooled"),
    [
        ("config/config.yaml", "data/embedded", (0, 1, 2), 5),  # 4 seeded runs, rge in 2 modes
        ("config/smoke.yaml", "data/smoke", (0, 1), 2),  # rge only, direct and reasoning
    ],
)
def test_replicates_are_trained_pooled_and_read_by_the_tables(configfile, root, seeds, pooled):
    text = plan(configfile)
    counts = job_counts(text)
    assert counts["pool_seeds"] == pooled
    trained = "".join(jobs_of(text, "train_run"))
    for s in seeds:
        assert f"{root}/train_run/rge@{s}/model" in trained
    assert f"{root}/train_run/rge/model" not in trained  # the base run is not trained itself
    pool = "".join(jobs_of(text, "pool_seeds"))
    replicas = ", ".join(f"{root}/score_mmeb/rge@{s}/reasoning.json" for s in seeds)
    assert replicas in pool and f"{root}/pool_seeds/rge/reasoning.json" in pool
    for table in ("table3", "table4", "table6", "table2", "table15"):
        (job,) = jobs_of(text, table)
        inputs = job.split("output:")[0]
        assert f"{root}/pool_seeds/rge/reasoning.json" in inputs, table
        assert f"{root}/score_mmeb/rge@0/" not in inputs, table  # never one replicate alone
    (table7,) = jobs_of(text, "table7")
    assert f"{root}/score_retrieval/rge@0/" in table7  # Table 7: the first replicate


def test_the_cold_start_probe_waits_for_the_cold_start():
    text = plan("config/smoke.yaml", "data/smoke/embed_eval/cold_start_probe/reasoning")
    (job,) = jobs_of(text, "embed_eval")
    assert "input: data/smoke/cold_start/model" in job
    assert job_counts(text)["cold_start"] == 1


def test_a_cold_start_data_run_reads_the_selection():
    text = plan("config/paper.yaml", "data/paper/train_run/alpha_1_1/model")
    (job,) = jobs_of(text, "train_run")
    assert "data/paper/select_cold_start/selection.json" in job.split("output:")[0]
    text = plan("config/paper.yaml", "data/paper/train_run/rge/model")
    (job,) = jobs_of(text, "train_run")
    assert "select_cold_start" not in job.split("output:")[0]
