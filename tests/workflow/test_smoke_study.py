"""The smoke config end to end: every rule runs for real, in a copy of the checkout."""

import csv
import json
import shutil

import pytest
import yaml

from tests.workflow.snakemake_run import ROOT, copy_checkout, job_counts, snakemake

pytestmark = pytest.mark.slow
OUT = "data/smoke"  # the smoke study's output root (config `study: smoke`)


@pytest.fixture(scope="module")
def checkout(tmp_path_factory):
    """A copy of the checkout in which the smoke study ran to the end (its own Snakefile)."""
    repo = copy_checkout(tmp_path_factory.mktemp("smoke") / "rge")
    proc = smoke(repo, "--cores", "2", timeout=1800)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-8000:]
    return repo


def smoke(repo, *args, config="config/smoke.yaml", timeout=600):
    """Snakemake in ``repo`` with the Snakefile of ``repo`` on the smoke config."""
    return snakemake(
        *args, "--configfile", config, cwd=repo, snakefile=repo / "Snakefile", timeout=timeout
    )


@pytest.fixture(scope="module")
def smoke_dir(checkout):
    """Where the smoke study wrote its outputs."""
    return checkout / OUT


def test_every_table_is_written(smoke_dir):
    for stem in ("table2/table2_mmeb_main", "table15/table15_mmeb_per_dataset"):
        for ext in ("md", "csv", "tex"):
            path = smoke_dir / f"{stem}.{ext}"
            assert path.stat().st_size > 0, path
    md = (smoke_dir / "table2/table2_mmeb_main.md").read_text()
    assert "smoke" in md  # the table names the config that produced it
    rows = list(csv.reader((smoke_dir / "table2/table2_mmeb_main.csv").open()))
    assert any("baseline" in " ".join(r) for r in rows)


def test_scores_are_fractions_for_every_task(smoke_dir):
    summary = json.loads((smoke_dir / "score_mmeb/baseline/direct.json").read_text())
    assert 0.0 <= summary["overall"] <= 1.0
    config = yaml.safe_load((ROOT / "config/smoke.yaml").read_text())
    assert summary["num_tasks"] == len(config["tasks"]["eval"])
    for bench in ("SynFlickr", "SynCOCO"):
        score = json.loads(
            (smoke_dir / f"score_retrieval/baseline/{bench}/direct-direct.json").read_text()
        )
        assert 0.0 <= score["t2i"]["R@1"] <= score["t2i"]["R@10"] <= 1.0


def test_the_release_protocol_and_the_untrained_backbone_row(smoke_dir):
    """Issue 11 end to end: the synthetic tables fetched from the mirror, every score made
    under rge_release with both tie rules, the eval-only row in Table 2, the data report."""
    source = json.loads((smoke_dir / "fetch_prompt_tables/source.json").read_text())
    assert source["mirror"] == f"{OUT}/make_synthetic/RGE" and source["commit"] is None
    summary = json.loads((smoke_dir / "score_mmeb/rge@0/reasoning.json").read_text())
    assert summary["prompt_protocol"] == "rge_release" and not summary["eval_only"]
    assert all("acc_strict" in t for t in summary["tasks"].values())
    before = json.loads((smoke_dir / "score_mmeb/untrained_backbone/direct.json").read_text())
    assert before["eval_only"] and 0.0 <= before["overall"] <= 1.0
    assert not (smoke_dir / "train_run/untrained_backbone").exists()
    assert (
        "untrained_backbone (direct, eval-only)"
        in (smoke_dir / "table2/table2_mmeb_main.md").read_text()
    )
    report = json.loads((smoke_dir / "data_report/data_report.json").read_text())
    assert report["prompt_protocol"] == "rge_release"
    assert report["coverage"]["eval_targets"] == ["SynShapeQA"]  # no candidate entry, by design


def test_probe_report_and_training_summary(smoke_dir):
    probe = json.loads((smoke_dir / "pretrain_backbone/probe.json").read_text())
    assert "passed" in probe
    summary = json.loads((smoke_dir / "train_run/baseline/summary.json").read_text())
    assert summary["steps"] > 0


def test_second_run_has_nothing_to_do(checkout):
    proc = smoke(checkout, "-n")
    assert proc.returncode == 0
    assert "Nothing to be done" in proc.stdout + proc.stderr


def test_smoke_writes_only_under_its_own_root(checkout):
    assert sorted(p.name for p in (checkout / "data").iterdir()) == ["smoke"]


def test_a_moved_checkout_plans_nothing(checkout, tmp_path):
    """No absolute path in any tracked param or input: the copy is up to date as it stands."""
    moved = tmp_path / "elsewhere" / "deeper" / "rge"
    shutil.copytree(checkout, moved, symlinks=True)
    proc = smoke(moved, "-n")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "Nothing to be done" in proc.stdout + proc.stderr, proc.stdout[-3000:]


def test_changing_one_ablation_reruns_only_its_jobs(checkout, tmp_path):
    config = yaml.safe_load((ROOT / "config/smoke.yaml").read_text())
    config["runs"]["alpha_1_20"]["alpha_con"] = 50
    changed = tmp_path / "changed.yaml"
    changed.write_text(yaml.safe_dump(config, sort_keys=False))  # a user edits one value in place
    proc = smoke(checkout, "-n", config=str(changed))
    assert proc.returncode == 0, proc.stderr
    jobs = job_counts(proc.stdout)
    assert jobs.pop("train_run") == 1 and "wildcards: run=alpha_1_20" in proc.stdout
    assert jobs.pop("embed_eval") == 1 and jobs.pop("score_mmeb") == 1
    assert jobs.pop("metrics") == 1  # its DVC metrics file (overall, IND, OOD, meta-tasks)
    # the tables that show alpha_1_20 (Table 3) and the report; nothing upstream, no other run
    assert jobs.pop("table3") == 1 and jobs.pop("report") == 1
    assert jobs.pop("rationale_probe") == 1  # its reasoning-mode rationales, probed again
    jobs.pop("all", None)
    jobs.pop("total", None)
    assert jobs == {}


def test_trained_numbers_match_the_golden_ones(smoke_dir):
    """Losses and scores of the smoke study within the tolerance calibrated by a one- vs
    two-thread rerun (tests/golden/smoke_metrics.json)."""
    from tests.golden import smoke

    stored = json.loads(smoke.SMOKE.read_text())
    bad = smoke.mismatches(stored, smoke.smoke_metrics(smoke_dir))
    regen = "if the change is meant to move them: python -m tests.golden.regenerate --smoke"
    assert not bad, "\n".join([*bad, regen])


def test_seeded_rge_is_pooled_and_the_tables_print_mean_sd(smoke_dir):
    """Issue 12: smoke's rge at seeds 0 and 1, pooled; Table 6 prints mean ± sd (n=2)."""
    seeds = [json.loads((smoke_dir / f"score_mmeb/rge@{s}/reasoning.json").read_text())
             for s in (0, 1)]  # fmt: skip
    pooled = json.loads((smoke_dir / "pool_seeds/rge/reasoning.json").read_text())
    assert (pooled["n"], pooled["replicates"]) == (2, ["rge@0", "rge@1"])
    assert abs(pooled["overall"] - (seeds[0]["overall"] + seeds[1]["overall"]) / 2) < 1e-12
    sd = abs(seeds[0]["overall"] - seeds[1]["overall"]) / 2**0.5  # sample sd of two values
    assert abs(pooled["sd"]["overall"] - sd) < 1e-12
    assert set(pooled["train"]["replicates"]) == {"rge@0", "rge@1"}
    table6 = (smoke_dir / "table6/table6_reasoning_at_inference.md").read_text()
    assert "rge (reasoning), mean ± sd (n=2)" in table6 and "1 seed" in table6
    assert (smoke_dir / "train_run/baseline_cs/summary.json").exists()
    assert (smoke_dir / "score_mmeb/cold_start_probe/reasoning.json").exists()
