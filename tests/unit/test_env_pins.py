"""environment.yml (conda, cluster) and pyproject.toml (pip, CPU) pin the same versions."""

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==([^\s;]+)$")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _pins(specs: list[str]) -> dict[str, str]:
    pins = {}
    for spec in specs:
        m = PIN.match(spec.strip())
        if m:
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def pyproject_pins() -> tuple[dict[str, str], dict[str, str]]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = [s for group in project["optional-dependencies"].values() for s in group]
    return _pins(project["dependencies"]), _pins(extras)


def conda_pip_pins(path: Path) -> dict[str, str]:
    env = yaml.safe_load(path.read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d)
    return _pins(pip)


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
