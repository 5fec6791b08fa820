"""workflow/envs/*.yaml (the rules' conda envs) agree with pyproject.toml, and every rule that
runs code declares one."""

from __future__ import annotations

import re

import yaml

from tests.fixtures.env_pins import ROOT, conda_pip_pins, pyproject_pins

ENVS = ROOT / "workflow/envs"


def test_train_env_pins_the_whole_core_stack_like_pyproject():
    core, extras = pyproject_pins()
    env = conda_pip_pins(ENVS / "train.yaml")
    assert sorted(set(core) - set(env)) == [], "train.yaml lacks core dependencies"
    every = {**extras, **core}
    assert {n: (v, every.get(n)) for n, v in env.items() if every.get(n) != v} == {}


def test_report_env_pins_agree_with_pyproject():
    core, _ = pyproject_pins()
    env = conda_pip_pins(ENVS / "report.yaml")
    assert env and {n: (v, core.get(n)) for n, v in env.items() if core.get(n) != v} == {}


def test_train_env_installs_this_repository():
    env = yaml.safe_load((ENVS / "train.yaml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    # Resolved from <workdir>/.snakemake/conda/ (where Snakemake copies the file): the repo root.
    assert "-e ../.." in pip
    assert "python=3.11" in env["dependencies"]


def test_every_rule_with_a_shell_declares_an_existing_conda_env():
    rules = sorted((ROOT / "rules").glob("*.smk"))
    missing = []
    for smk in rules:
        for name, body in re.findall(r"^rule (\w+):\n((?:[ \t]+.*\n|\n)*)", smk.read_text(), re.M):
            if "shell:" not in body:
                continue
            m = re.search(r"conda:\s*\n\s*\"([^\"]+)\"", body)
            if not m:
                missing.append(f"{smk.name}:{name}")
                continue
            path = (smk.parent / m.group(1)).resolve()
            assert path.is_file(), f"{smk.name}:{name}: conda env {m.group(1)} does not exist"
            yaml.safe_load(path.read_text())
    assert missing == [], f"rules without a conda env: {missing}"
    assert len(rules) >= 6
