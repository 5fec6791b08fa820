"""environment.yml (conda, cluster) and pyproject.toml (pip, CPU) pin the same versions."""

import tomllib

import yaml

from tests.fixtures.env_pins import PIN, ROOT, conda_pip_pins, pyproject_pins


def test_every_core_dependency_is_pinned_exactly():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    loose = [s for s in project["dependencies"] if not PIN.match(s)]
    assert loose == []


def test_environment_yml_agrees_with_pyproject():
    core, extras = pyproject_pins()
    conda = conda_pip_pins(ROOT / "environment.yml")
    missing = sorted(set(core) - set(conda))
    assert missing == [], f"environment.yml lacks core dependencies {missing}"
    every = {**extras, **core}
    differ = {n: (v, every[n]) for n, v in conda.items() if n in every and every[n] != v}
    assert differ == {}, f"environment.yml vs pyproject.toml pins differ: {differ}"
    unknown = sorted(set(conda) - set(every))
    assert unknown == [], f"environment.yml pins packages pyproject.toml does not know: {unknown}"


def test_python_version_agrees():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    assert "python=3.11" in env["dependencies"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["requires-python"] == ">=3.11,<3.12"
