"""Dry runs of the three configs: the whole DAG is planned without network or GPU."""

import pytest

from tests.workflow.snakemake_run import ROOT, job_counts, snakemake


def dry(*args: str) -> dict[str, int]:
    proc = snakemake("-n", "-F", *args)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return job_counts(proc.stdout)


def test_paper_dag_lists_every_subset_task_and_bench():
    counts = dry("--configfile", "config/paper.yaml")
    assert counts["fetch_mmeb_train"] == 20
    assert counts["prepare_train"] == 20
    assert counts["fetch_mmeb_eval"] == 36
    assert counts["fetch_retrieval"] == 2  # Flickr30K and COCO
    assert counts["pretrain_backbone"] == 1
    assert "make_synthetic" not in counts  # the paper reads the hub


def test_paper_dag_restricted_to_a_local_mirror(tmp_path):
    counts = dry(
        "--configfile",
        "config/paper.yaml",
        "--config",
        f"mmeb_mirror={tmp_path}",
        "train_subsets=ImageNet_1K,ChartQA",
        "eval_tasks=ImageNet-1K,HatefulMemes",
    )
    assert counts["fetch_mmeb_train"] == 2
    assert counts["fetch_mmeb_eval"] == 2


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/smoke.yaml"])
def test_embedded_dags_generate_their_benchmark(configfile):
    counts = dry("--configfile", configfile)
    assert counts["make_synthetic"] == 1
    assert counts["pretrain_backbone"] == 1
    assert counts["table2"] == counts["table15"] == 1


def test_default_config_is_the_embedded_study():
    counts = dry()
    assert counts["make_synthetic"] == 1


def test_unknown_key_fails_before_any_job_and_names_it():
    proc = snakemake("-n", "--config", "not_a_key=1")
    assert proc.returncode != 0
    assert "not_a_key" in proc.stdout + proc.stderr


def test_bad_value_fails_and_names_it(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = (
        (ROOT / "config/smoke.yaml").read_text().replace("on_bad_row: raise", "on_bad_row: ignore")
    )
    assert text != (ROOT / "config/smoke.yaml").read_text()
    bad.write_text(text)
    proc = snakemake("-n", "--configfile", str(bad))
    assert proc.returncode != 0
    assert "ignore" in proc.stdout + proc.stderr and "on_bad_row" in proc.stdout + proc.stderr


def test_unknown_eval_task_knob_is_named():
    proc = snakemake("-n", "--config", "eval_tasks=NoSuchTask")
    assert proc.returncode != 0
    assert "NoSuchTask" in proc.stdout + proc.stderr


def test_paper_jobs_ask_for_the_resources_the_config_gives():
    proc = snakemake("-n", "-F", "--configfile", "config/paper.yaml")
    assert proc.returncode == 0, proc.stderr
    blocks = proc.stdout.split("\nrule ")
    train = next(b for b in blocks if b.startswith("train_run:"))
    assert "gres=gpu:8" in train and "nodes=4" in train and "runtime=2880" in train
    oracle = next(b for b in blocks if b.startswith("oracle_rationales:"))
    assert "gres=gpu:4" in oracle
