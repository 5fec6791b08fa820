"""Dry runs of the three configs: the whole DAG is planned without network or GPU."""

import re

import pytest
import yaml

from rge import config as rge_config
from tests.workflow.snakemake_run import ROOT, job_counts, snakemake

CONFIGS = ["config/config.yaml", "config/smoke.yaml", "config/paper.yaml"]


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


def error_lines(proc) -> list[str]:
    """The lines of a failed run that say what is wrong (Snakemake's own notes left out)."""
    text = proc.stdout + proc.stderr
    return [line for line in text.splitlines() if line and not line.startswith("Config file ")]


def test_unknown_key_fails_before_any_job_and_names_it():
    proc = snakemake("-n", "--config", "not_a_key=1")
    assert proc.returncode != 0
    assert error_lines(proc) == [error_lines(proc)[0]]  # one line, no schema dump
    assert error_lines(proc)[0].startswith("config error: config: unknown key 'not_a_key'")


def with_edit(tmp_path, old: str, new: str):
    """config/smoke.yaml with one text edit, as a user would make it."""
    text = (ROOT / "config/smoke.yaml").read_text()
    assert old in text, old
    path = tmp_path / "edited.yaml"
    path.write_text(text.replace(old, new, 1))
    return path


def test_typo_in_a_tiny_backbone_key_is_one_line_with_a_suggestion(tmp_path):
    proc = snakemake("-n", "--configfile", str(with_edit(tmp_path, "    heads: 4", "    haeds: 4")))
    assert proc.returncode != 0
    assert len(error_lines(proc)) == 1, error_lines(proc)
    line = error_lines(proc)[0]
    assert "backbone.tiny: unknown key 'haeds' (did you mean 'heads'?)" in line


def test_typo_in_a_rationale_setting_fails_before_any_job(tmp_path):
    edited = with_edit(
        tmp_path,
        "  fail_on_bad: false",
        "  fail_on_bad: false\n  settings: {tensor_paralel_size: 4}",
    )
    proc = snakemake("-n", "--configfile", str(edited))
    assert proc.returncode != 0
    assert "did you mean 'tensor_parallel_size'?" in error_lines(proc)[0]


def test_a_yaml_1_1_float_string_is_read_as_the_number(tmp_path):
    edited = with_edit(tmp_path, "  lr: 0.001", "  lr: 1e-3")
    assert yaml.safe_load(edited.read_text())["train"]["lr"] == "1e-3"  # YAML 1.1: a string
    proc = snakemake("-n", "-F", "--configfile", str(edited))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert job_counts(proc.stdout) == dry("--configfile", "config/smoke.yaml")


def test_bad_value_fails_and_names_it(tmp_path):
    bad = tmp_path / "bad.yaml"
    text = (
        (ROOT / "config/smoke.yaml").read_text().replace("on_bad_row: raise", "on_bad_row: ignore")
    )
    assert text != (ROOT / "config/smoke.yaml").read_text()
    bad.write_text(text)
    proc = snakemake("-n", "--configfile", str(bad))
    assert proc.returncode != 0
    assert error_lines(proc) == [
        "config error: benchmark.on_bad_row: 'ignore' is not one of raise, skip"
    ]


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


def dvc_rewrite(path, out):
    """The file as `dvc exp run -S` leaves it: read and written back by DVC's own YAML code
    (ruamel, YAML 1.2: quotes that YAML 1.2 does not need are dropped)."""
    from dvc.utils.serialize import modify_yaml

    out.write_text(path.read_text())
    with modify_yaml(out) as data:
        data["seed"] = data["seed"]  # any -S edit rewrites the whole file
    return out


def labels(configfile) -> dict:
    config = rge_config.validate(
        yaml.safe_load(configfile.read_text()), rge_config.load_schema(ROOT / rge_config.SCHEMA)
    )
    return {t: rge_config.table_rows(config, t) for t in rge_config.ROW_TABLES}


@pytest.mark.parametrize("configfile", CONFIGS)
def test_a_dvc_rewrite_changes_neither_jobs_nor_table_labels(configfile, tmp_path):
    rewritten = dvc_rewrite(ROOT / configfile, tmp_path / "rewritten.yaml")
    assert rewritten.read_text() != (ROOT / configfile).read_text()  # quotes and comments moved
    assert labels(rewritten) == labels(ROOT / configfile)
    assert dry("--configfile", str(rewritten)) == dry("--configfile", configfile)


@pytest.mark.parametrize("configfile", CONFIGS)
def test_configs_have_no_anchors_and_no_number_like_keys(configfile):
    events = list(yaml.parse((ROOT / configfile).read_text()))
    assert not [e for e in events if isinstance(e, yaml.AliasEvent)]
    assert not [e for e in events if getattr(e, "anchor", None)]

    def keys(node):
        if isinstance(node, dict):
            for k, v in node.items():
                yield k
                yield from keys(v)
        elif isinstance(node, list):
            for v in node:
                yield from keys(v)

    number_like = re.compile(r"^[-+]?[0-9][0-9_.:eE+-]*$")
    config = yaml.safe_load((ROOT / configfile).read_text())
    assert not [k for k in keys(config) if not isinstance(k, str) or number_like.match(k)]


def test_paper_dag_fetches_the_prompt_tables_and_evaluates_the_released_checkpoint():
    proc = snakemake("-n", "-F", "--configfile", "config/paper.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    counts = job_counts(proc.stdout)
    assert counts["fetch_prompt_tables"] == 1 and counts["data_report"] == 1
    assert counts["fetch_checkpoint"] == 1  # released_rge, the one hub checkpoint
    for path in (
        "data/paper/fetch_checkpoint/released_rge/model",
        "data/paper/embed_eval/released_rge/direct",
        "data/paper/embed_eval/released_rge/reasoning",
        "data/paper/score_mmeb/released_rge/reasoning.json",
    ):
        assert f"output: {path}" in proc.stdout, path
    assert "train_run/released_rge" not in proc.stdout  # eval-only: never trained
    # its rows reach Tables 2, 6 and 15
    for table in ("table2", "table6", "table15"):
        block = proc.stdout.split(f"rule {table}:")[1].split("\n\n")[0]
        assert "score_mmeb/released_rge/" in block, table


def readme_command(title: str) -> list[str]:
    """The one command in the README section ``title``, split as a shell would."""
    import shlex

    section = (ROOT / "README.md").read_text().split(f"## {title}\n")[1].split("\n## ")[0]
    (block,) = re.findall(r"```\n(.*?)\n```", section, flags=re.S)
    return shlex.split(block)


def test_the_readme_command_evaluates_a_checkpoint_without_training():
    cmd = readme_command("Evaluate any checkpoint")
    assert cmd[:2] == ["snakemake", "eval_only"]
    proc = snakemake("-n", *cmd[1:])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    counts = job_counts(proc.stdout)
    assert counts["fetch_checkpoint"] == 2  # my_checkpoint and the paper's released_rge
    assert counts["embed_eval"] == counts["score_mmeb"] == 4  # 2 runs x (direct, reasoning)
    assert (
        counts["score_retrieval"] == 8
    )  # 2 runs x 2 benches x (direct-direct, reasoning-reasoning)
    assert not {"train_run", "cold_start", "pretrain_backbone", "oracle_rationales"} & set(counts)
    assert "output: data/paper/score_mmeb/my_checkpoint/reasoning.json" in proc.stdout
