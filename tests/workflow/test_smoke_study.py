"""The smoke config end to end: every rule runs for real, in a scratch working directory."""

import csv
import json

import pytest
import yaml

from tests.workflow.snakemake_run import ROOT, job_counts, snakemake

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smoke_dir(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("smoke")
    proc = snakemake(
        "--cores", "2", "--configfile", str(ROOT / "config/smoke.yaml"), cwd=workdir, timeout=900
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    return workdir


def test_every_table_is_written(smoke_dir):
    for stem in ("table2/table2_mmeb_main", "table15/table15_mmeb_per_dataset"):
        for ext in ("md", "csv", "tex"):
            path = smoke_dir / "data" / f"{stem}.{ext}"
            assert path.stat().st_size > 0, path
    md = (smoke_dir / "data/table2/table2_mmeb_main.md").read_text()
    assert "smoke" in md  # the table names the config that produced it
    rows = list(csv.reader((smoke_dir / "data/table2/table2_mmeb_main.csv").open()))
    assert any("baseline" in " ".join(r) for r in rows)


def test_scores_are_fractions_for_every_task(smoke_dir):
    summary = json.loads((smoke_dir / "data/score_mmeb/baseline/direct.json").read_text())
    assert 0.0 <= summary["overall"] <= 1.0
    config = yaml.safe_load((ROOT / "config/smoke.yaml").read_text())
    assert summary["num_tasks"] == len(config["tasks"]["eval"])
    for bench in ("SynFlickr", "SynCOCO"):
        score = json.loads(
            (smoke_dir / f"data/score_retrieval/baseline/{bench}/direct-direct.json").read_text()
        )
        assert 0.0 <= score["t2i"]["R@1"] <= score["t2i"]["R@10"] <= 1.0


def test_probe_report_and_training_summary(smoke_dir):
    probe = json.loads((smoke_dir / "data/pretrain_backbone/probe.json").read_text())
    assert "passed" in probe
    summary = json.loads((smoke_dir / "data/train_run/baseline/summary.json").read_text())
    assert summary["steps"] > 0


def test_second_run_has_nothing_to_do(smoke_dir):
    proc = snakemake("-n", "--configfile", str(ROOT / "config/smoke.yaml"), cwd=smoke_dir)
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_changing_one_ablation_reruns_only_its_jobs(smoke_dir, tmp_path):
    config = yaml.safe_load((ROOT / "config/smoke.yaml").read_text())
    config["runs"]["alpha_1_20"]["alpha_con"] = 50
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(config, sort_keys=False))  # a user edits one value in place
    proc = snakemake("-n", "--configfile", str(changed), cwd=smoke_dir)
    assert proc.returncode == 0, proc.stderr
    jobs = job_counts(proc.stdout)
    assert jobs.pop("train_run") == 1 and "wildcards: run=alpha_1_20" in proc.stdout
    assert jobs.pop("embed_eval") == 1 and jobs.pop("score_mmeb") == 1
    # the tables that show alpha_1_20 (Table 3) and the report; nothing upstream, no other run
    assert jobs.pop("table3") == 1 and jobs.pop("report") == 1
    jobs.pop("all", None)
    jobs.pop("total", None)
    assert jobs == {}
