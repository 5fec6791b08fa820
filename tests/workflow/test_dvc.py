"""DVC versions the Snakemake DAG: dvc.yaml agrees with the Snakefile, and the DVC workflow
(repro, exp run, push/pull + touch, a missing remote object) works on the smoke config.

Everything runs in a scratch git repository made from a copy of this tree (never in the
repository's own data/ or DVC cache)."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.workflow.snakemake_run import ROOT

BIN = Path(sys.executable).parent
PHASES = ("data", "rationales", "train", "diagnostics", "evaluate", "report")
# Config sections that are runtime settings (scheduler resources), not science: no stage's param.
RUNTIME_KEYS = {"resources"}
# Copied into the scratch repository: the tree minus build products, data and caches.
SKIP_AT_ROOT = {".venv", "data", ".snakemake", ".git", ".pytest_cache", ".ruff_cache"}
SKIP_IN_DVC = {"cache", "tmp", "config.local"}
# A job in a dry run's listing (jobs of a group are indented further).
JOB_HEAD = re.compile(r"^\s*(?:local)?(?:rule|checkpoint) (\w+):$")
JOB_FILES = re.compile(r"^\s+(input|output): (.*)$")


# --- scratch repositories --------------------------------------------------------------------


def run(cmd: list[str], cwd: Path, timeout: int = 900, check: bool = True):
    """A command in ``cwd`` with the venv first on PATH (stages call `python`, DVC `snakemake`)."""
    env = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "DVC_NO_ANALYTICS": "1",
        "HF_HUB_OFFLINE": "1",
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
    }
    proc = subprocess.run(
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} -> {proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}"
        )
    return proc


def dvc(*args: str, cwd: Path, check: bool = True):
    return run([str(BIN / "dvc"), *args], cwd, check=check)


def snakemake(*args: str, cwd: Path, check: bool = True):
    return run([str(BIN / "snakemake"), *args], cwd, check=check)


def _ignore(directory: str, names: list[str]) -> set[str]:
    here = Path(directory).resolve()
    skip = {"__pycache__"}
    if here == ROOT:
        skip |= SKIP_AT_ROOT
    elif here == ROOT / ".dvc":
        skip |= SKIP_IN_DVC
    return skip & set(names)


def study_root(configfile: str) -> str:
    """A study's output root, data/<study> (the config's `study:` key)."""
    return f"data/{yaml.safe_load((ROOT / configfile).read_text())['study']}"


def use_config(
    repo: Path, configfile: str, drop_outs: tuple[str, ...] = (), add_outs: dict | None = None
) -> None:
    """The documented edit for another study: dvc.yaml's `configfile` and `root` vars, minus
    some outputs, plus ``add_outs`` ({stage: output}) after that stage's last output."""
    path = repo / "dvc.yaml"
    text = path.read_text()
    text, n = re.subn(r"(?m)^(\s+- configfile: ).*$", rf"\g<1>{configfile}", text, count=1)
    assert n == 1, "dvc.yaml: no `configfile` variable under vars:"
    text, n = re.subn(r"(?m)^(\s+root: ).*$", rf"\g<1>{study_root(configfile)}", text, count=1)
    assert n == 1, "dvc.yaml: no `root` variable under vars:"
    for out in drop_outs:
        text, n = re.subn(rf"(?m)^\s+- {re.escape(out)}:\n\s+persist: true\n", "", text)
        assert n == 1, f"dvc.yaml: output {out} not found"
    for stage, out in (add_outs or {}).items():
        pattern = rf"(?ms)^(  {stage}:\n.*?    outs:\n(?:      - .*?\n          persist: true\n)+)"
        text, n = re.subn(pattern, rf"\g<1>      - {out}:\n          persist: true\n", text)
        assert n == 1, f"dvc.yaml: stage {stage} not found"
    path.write_text(text)


def scratch_repo(dest: Path, configfile: str = "config/config.yaml") -> Path:
    """A git repository holding a copy of this tree (one commit), dvc.yaml set to ``configfile``."""
    snakefile = (ROOT / "Snakefile").read_text()
    assert 'include: "rules/phases.smk"' in snakefile, (
        'Snakefile: add `include: "rules/phases.smk"` (the phase targets dvc.yaml runs)'
    )
    shutil.copytree(ROOT, dest, ignore=_ignore)
    (dest / study_root(configfile)).mkdir(parents=True)  # DVC makes no output's parent folder
    shutil.copy(ROOT / "data/README.md", dest / "data/README.md")  # tracked, as in a clone
    use_config(dest, configfile)
    run(["git", "init", "-q", "-b", "main"], dest)
    run(["git", "add", "-A"], dest)
    run(["git", "commit", "-q", "-m", "scratch"], dest)
    return dest


# --- dvc.yaml and the Snakemake DAG ------------------------------------------------------------


def dvc_stages(repo: Path) -> dict[str, dict]:
    """dvc.yaml's stages with variables resolved by DVC itself: cmd, deps, params, outs."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc_repo:
        stages = {}
        for stage in dvc_repo.index.stages:
            params = {}
            for dep in stage.params:
                params.setdefault(str(dep.def_path), []).extend(dep.params)
            stages[stage.name] = {
                "cmd": stage.cmd,
                "deps": [str(d.def_path) for d in stage.deps if d not in stage.params],
                "params": params,
                "outs": {str(o.def_path): o.persist for o in stage.outs},
            }
        return stages


def dry_run_jobs(repo: Path, configfile: str) -> list[dict]:
    """Every job of the whole DAG and of every phase target: {rule, input, output} (paths)."""
    targets = ["all", "phases", *(f"phase_{p}" for p in PHASES)]
    # Targets before --configfile, which takes several values.
    proc = snakemake("-n", "--forceall", *targets, "--configfile", configfile, cwd=repo)
    jobs = []
    for line in proc.stdout.splitlines():
        if m := JOB_HEAD.match(line):
            jobs.append({"rule": m.group(1), "input": [], "output": []})
        elif jobs and (m := JOB_FILES.match(line)):
            jobs[-1][m.group(1)] = m.group(2).split(", ")
    assert any(j["rule"] == "phase_data" for j in jobs), proc.stdout[-3000:]
    return jobs


def under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def owner(path: str, stages: dict[str, dict]) -> str | None:
    """The stage whose output holds ``path``, if any."""
    found = [name for name, s in stages.items() for out in s["outs"] if under(path, out)]
    assert len(found) <= 1, f"{path} lies under the outputs of several stages: {found}"
    return found[0] if found else None


def producers(jobs: list[dict]) -> dict[str, dict]:
    return {path: job for job in jobs for path in job["output"]}


def upstream(job: dict, made_by: dict[str, dict]) -> list[dict]:
    """The jobs ``job`` needs, transitively (an input is a job's output or lies inside one)."""
    seen, todo, found = set(), list(job["input"]), []
    while todo:
        path = todo.pop()
        for out, producer in made_by.items():
            if under(path, out) and id(producer) not in seen:
                seen.add(id(producer))
                found.append(producer)
                todo.extend(producer["input"])
    return found


def drift(repo: Path, configfile: str) -> list[str]:
    """Every way dvc.yaml and the Snakemake DAG disagree, as messages (empty: in step)."""
    stages, jobs = dvc_stages(repo), dry_run_jobs(repo, configfile)
    made_by = producers(jobs)
    problems = []
    if set(stages) != set(PHASES):
        problems.append(f"stages {sorted(stages)} are not the phases {sorted(PHASES)}")
    phase_jobs = {
        j["rule"].removeprefix("phase_"): j for j in jobs if j["rule"].startswith("phase_")
    }
    for name, stage in stages.items():
        if not stage["cmd"].endswith(f" phase_{name} --configfile {configfile}"):
            problems.append(f"stage {name}: cmd {stage['cmd']!r} is not its phase target")
        for out, persist in stage["outs"].items():
            if not persist:
                problems.append(f"stage {name}: output {out} is not persist: true")
            if not any(under(p, out) for p in made_by):
                problems.append(f"stage {name}: output {out} is produced by no Snakemake rule")
        built = upstream(phase_jobs[name], made_by) if name in phase_jobs else []
        for target in phase_jobs.get(name, {"input": []})["input"]:
            if owner(target, stages) != name:
                problems.append(f"phase_{name}: target {target} is no output of stage {name}")
        for job in jobs:
            if job["rule"].startswith("phase_") or not job["output"]:
                continue
            if owner(job["output"][0], stages) != name:
                continue
            if not any(job is b for b in built):
                problems.append(
                    f"stage {name}: rule {job['rule']} ({job['output'][0]}) is not built by phase_{name}"
                )
            for path in job["input"]:
                source = owner(path, stages)
                if source not in (None, name) and not any(under(path, d) for d in stage["deps"]):
                    problems.append(
                        f"stage {name}: reads {path} (stage {source}) but has no dep on it"
                    )
    for path, job in made_by.items():
        if owner(path, stages) is None:
            problems.append(f"rule {job['rule']}: output {path} is no stage's output")
    return problems


def schema_has(schema: dict, key: str) -> bool:
    """Whether a dotted params key names a property of the config schema."""
    node = schema
    for part in key.split("."):
        props = node.get("properties", {})
        if part in props:
            node = props[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return False
    return True


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    return scratch_repo(tmp_path_factory.mktemp("dvc") / "repo")


def test_stages_are_the_phases_and_run_on_the_chosen_config(repo):
    stages = dvc_stages(repo)
    assert list(stages) == list(PHASES)
    for name, stage in stages.items():
        assert stage["cmd"].startswith("snakemake "), stage["cmd"]
        assert stage["cmd"].endswith(f" phase_{name} --configfile config/config.yaml")
        assert set(stage["params"]) == {"config/config.yaml"}, stage["params"]
        for dep in ("Snakefile", "rules", "src/rge"):
            assert dep in stage["deps"], (name, dep)


def test_params_name_config_schema_keys_and_cover_every_section(repo):
    schema = yaml.safe_load((ROOT / "workflow/schemas/config.schema.yaml").read_text())
    stages = dvc_stages(repo)
    keys = {k for s in stages.values() for ks in s["params"].values() for k in ks}
    assert keys
    unknown = sorted(k for k in keys if not schema_has(schema, k))
    assert not unknown, f"dvc.yaml params not in the config schema: {unknown}"
    for configfile in ("config/config.yaml", "config/smoke.yaml", "config/paper.yaml"):
        config = yaml.safe_load((ROOT / configfile).read_text())
        tracked = {k.split(".")[0] for k in keys}
        untracked = sorted(set(config) - tracked - RUNTIME_KEYS)
        assert not untracked, f"{configfile}: sections no dvc.yaml stage tracks: {untracked}"


def test_dvc_outputs_match_the_snakemake_dag(repo):
    assert drift(repo, "config/config.yaml") == []


def test_metrics_are_stage_outputs(repo):
    spec = yaml.safe_load((repo / "dvc.yaml").read_text())
    variables = {k: v for entry in spec["vars"] for k, v in entry.items()}
    stages = dvc_stages(repo)
    for raw in spec.get("metrics", []) + [
        p if isinstance(p, str) else next(iter(p)) for p in spec.get("plots", [])
    ]:
        path = re.sub(r"\$\{(\w+)\}", lambda m: variables[m.group(1)], raw)
        assert path.startswith("data/embedded/"), path
        assert owner(path, stages), f"dvc.yaml: {path} is no stage's output"


@pytest.mark.slow
def test_paper_branch_edit_matches_the_paper_dag(tmp_path):
    repo = scratch_repo(tmp_path / "paper", "config/paper.yaml")
    use_config(
        repo,
        "config/paper.yaml",
        # no synthetic benchmark (no scenes to probe rationales on), and no seeded run: nothing
        # to pool
        drop_outs=("${root}/make_synthetic", "${root}/rationale_probe", "${root}/pool_seeds"),
        add_outs={"evaluate": "${root}/fetch_checkpoint"},  # released_rge comes from the hub
    )
    assert drift(repo, "config/paper.yaml") == []


def test_drift_is_caught(tmp_path):
    """An output no rule writes and a stage reading another's output undeclared are reported."""
    repo = scratch_repo(tmp_path / "drifted")
    text = (repo / "dvc.yaml").read_text()
    extra = "      - ${root}/not_a_rule:\n          persist: true\n      - ${root}/train_run:\n"
    text = text.replace("      - ${root}/train_run:\n", extra, 1)
    text = text.replace(
        "      - ${root}/fetch_retrieval\n      - ${root}/train_run\n",
        "      - ${root}/fetch_retrieval\n",
        1,
    )
    (repo / "dvc.yaml").write_text(text)
    problems = drift(repo, "config/config.yaml")
    assert (
        "stage train: output data/embedded/not_a_rule is produced by no Snakemake rule" in problems
    )
    assert (
        "stage evaluate: reads data/embedded/train_run/baseline@0/model (stage train) "
        "but has no dep on it" in problems
    )


# --- the DVC workflow on the smoke config (slow: runs the smoke study) --------------------------

SMOKE = "config/smoke.yaml"
SMOKE_ROOT = "data/smoke"
STAGE_RAN = re.compile(r"Running stage '(\w+)'")
JOB_WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")


def executed_jobs(output: str) -> list[tuple[str, dict[str, str]]]:
    """(rule, wildcards) of every job Snakemake ran, from its log in a command's output."""
    jobs = []
    for line in output.splitlines():
        if m := JOB_HEAD.match(line):
            jobs.append((m.group(1), {}))
        elif jobs and (m := JOB_WILDCARDS.match(line)):
            jobs[-1][1].update(kv.split("=", 1) for kv in m.group(1).split(", "))
    return [(rule, wc) for rule, wc in jobs if not rule.startswith("phase")]


def up_to_date(repo: Path) -> None:
    """Both tools agree there is nothing to do (Snakemake for its default target and for
    every phase that DVC runs)."""
    for target in ("all", "phases"):
        proc = snakemake("-n", target, "--configfile", SMOKE, cwd=repo)
        assert "Nothing to be done" in proc.stdout + proc.stderr, (target, proc.stdout[-3000:])
    status = dvc("status", cwd=repo)
    assert "Data and pipelines are up to date" in status.stdout, status.stdout


@pytest.fixture(scope="module")
def study(tmp_path_factory) -> dict:
    """The smoke study reproduced by `dvc repro` in a scratch repo, lock committed, pushed."""
    root = tmp_path_factory.mktemp("dvc-study")
    repo = scratch_repo(root / "repo", SMOKE)
    first = dvc("repro", cwd=repo)
    second = dvc("repro", cwd=repo)
    run(["git", "add", "dvc.lock"], repo)
    run(["git", "commit", "-q", "-m", "smoke study reproduced"], repo)
    push = dvc("push", cwd=repo)
    return {
        "root": root,
        "repo": repo,
        "first": first.stdout,
        "second": second.stdout,
        "push": push,
    }


@pytest.fixture(scope="module")
def clone(study) -> Path:
    """A fresh clone: `dvc pull`, then `snakemake --touch` (pulled files have arbitrary mtimes)."""
    path = study["root"] / "clone"
    run(["git", "clone", "-q", str(study["repo"]), str(path)], study["root"])
    dvc("pull", cwd=path)
    snakemake("--touch", "--cores", "1", "phases", "--configfile", SMOKE, cwd=path)
    return path


@pytest.mark.slow
def test_repro_runs_every_phase_then_nothing(study):
    assert STAGE_RAN.findall(study["first"]) == list(PHASES)
    assert STAGE_RAN.findall(study["second"]) == [], study["second"][-3000:]
    assert "Data and pipelines are up to date" in study["second"]
    up_to_date(study["repo"])
    lock = yaml.safe_load((study["repo"] / "dvc.lock").read_text())
    assert set(lock["stages"]) == set(PHASES)
    shown = json.loads(dvc("metrics", "show", "--json", cwd=study["repo"]).stdout)
    metrics = json.dumps(shown)
    # one small file per run and mode (rule metrics), in %
    assert f"{SMOKE_ROOT}/metrics/baseline/direct.json" in metrics and "overall" in metrics


@pytest.mark.slow
def test_push_then_pull_and_touch_gives_an_up_to_date_tree(study, clone):
    assert (study["root"] / "rge-dvc-remote" / "files" / "md5").is_dir()  # the default remote
    up_to_date(clone)
    for name in ("score_mmeb/rge@0/reasoning.json", "table2/table2_mmeb_main.md"):
        rel = f"{SMOKE_ROOT}/{name}"
        assert (clone / rel).read_bytes() == (study["repo"] / rel).read_bytes(), rel


@pytest.mark.slow
def test_pull_names_an_object_missing_from_the_remote(study):
    root = study["root"]
    remote = root / "broken-remote"
    shutil.copytree(root / "rge-dvc-remote", remote)
    victim = study["repo"] / SMOKE_ROOT / "table2/table2_mmeb_main.md"
    md5 = dvc_md5(victim)
    (remote / "files" / "md5" / md5[:2] / md5[2:]).unlink()
    path = root / "clone-broken"
    run(["git", "clone", "-q", str(study["repo"]), str(path)], root)
    dvc("remote", "modify", "--local", "local", "url", str(remote), cwd=path)
    pull = dvc("pull", cwd=path, check=False)
    assert pull.returncode != 0
    assert md5 in pull.stdout + pull.stderr, (pull.stdout + pull.stderr)[-3000:]
    # What was fetched checks out; the output holding the missing object is named, not faked.
    checkout = dvc("checkout", cwd=path, check=False)
    assert checkout.returncode != 0
    assert f"{SMOKE_ROOT}/table2" in checkout.stdout + checkout.stderr
    assert not (path / SMOKE_ROOT / "table2/table2_mmeb_main.md").exists()
    assert (path / SMOKE_ROOT / "score_mmeb/rge@0/reasoning.json").exists()
    assert f"{SMOKE_ROOT}/table2" in dvc("status", cwd=path).stdout  # the stage stays out of date


def dvc_md5(path: Path) -> str:
    import hashlib

    return hashlib.md5(path.read_bytes()).hexdigest()


@pytest.mark.slow
def test_exp_run_reruns_only_what_the_change_touches(clone):
    """Runs last: it leaves the clone's workspace on the experiment."""
    proc = dvc("exp", "run", "-S", f"{SMOKE}:+runs.rge.alpha_con=5", cwd=clone)
    out = proc.stdout + proc.stderr
    assert STAGE_RAN.findall(out) == ["train", "evaluate", "report"], out[-3000:]
    jobs = executed_jobs(out)
    # the smoke config trains rge at seeds 0 and 1: both replicates retrain, nothing else does
    assert sorted(w["run"] for r, w in jobs if r == "train_run") == ["rge@0", "rge@1"], jobs
    for rule, wildcards in jobs:  # other runs' jobs and the data/rationales phases stay
        run = wildcards.get("run", "rge").split("@")[0]  # a replicate or the pooled base run
        assert run == "rge" and "subset" not in wildcards, (rule, wildcards)
    params = json.loads(dvc("params", "diff", "--json", cwd=clone).stdout)
    assert params[SMOKE]["runs.rge.alpha_con"]["new"] == 5, params
    metrics = json.loads(dvc("metrics", "diff", "--all", "--json", cwd=clone).stdout)
    assert any("metrics/rge" in path for path in metrics), metrics
    shown = dvc("exp", "show", "--csv", "--only-changed", cwd=clone).stdout
    assert "runs.rge.alpha_con" in shown and "overall" in shown, shown[:2000]
    # the README's view fits a terminal: the changed param and the changed run's metrics only
    header = next(csv.reader(io.StringIO(shown)))
    assert len(header) <= 40, header
