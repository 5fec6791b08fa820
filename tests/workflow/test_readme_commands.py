"""Every command README.md prints, extracted from its code blocks and run as printed.

The commands are read from README.md itself, so the README and this test cannot drift: a
command no test below runs fails ``test_every_readme_command_is_run_by_a_test``. Substitutions,
and only these: placeholders (``DIR``, ``<repo>``, ``<run>``) get real values; ``-n`` is added
right after ``snakemake`` where the command would train or submit, and ``make`` is asked with
``-n`` for the command it runs; the DVC workflow runs on the smoke config with Snakemake's
``--touch`` standing in for the stages (tests/workflow/test_dvc.py runs it for real, slow).
Each planned command's jobs are asserted: forcing one ablation plans one training.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.workflow.snakemake_run import ROOT, copy_checkout, job_counts, snakemake

README = ROOT / "README.md"
RUN = "alpha_1_20"  # the `<run>` of the README's cluster commands


def code_blocks(text: str) -> list[str]:
    """The shell code blocks of a Markdown text: fenced (``` or ```bash; not ```yaml) and
    indented by four spaces outside a fence."""
    blocks, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            lang, body = line[3:].strip(), []
            i += 1
            while not lines[i].startswith("```"):
                body.append(lines[i])
                i += 1
            if lang in ("", "bash", "sh", "shell"):
                blocks.append("\n".join(body))
        elif line.startswith("    ") and (i == 0 or not lines[i - 1].strip()):
            body = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                body.append(lines[i][4:])
                i += 1
            blocks.append("\n".join(body))
            continue
        i += 1
    return blocks


def commands(block: str) -> list[str]:
    """A block's commands: continuation lines joined, comments dropped, one per line."""
    joined = re.sub(r"\\\n\s*", "", block)
    out = []
    for line in joined.splitlines():
        words = shlex.split(line, comments=True)
        if words:
            out.append(" ".join(shlex.quote(w) if " " in w else w for w in words))
    return out


def readme_commands() -> list[str]:
    return [cmd for block in code_blocks(README.read_text()) for cmd in commands(block)]


def test_code_blocks_and_commands_are_read_as_printed():
    text = "x\n\n```bash\na b \\\n    c   # note\n# only a comment\n```\n\n    d 'e f'\n"
    assert [commands(b) for b in code_blocks(text)] == [["a b c"], ["d 'e f'"]]


# --- the commands, with what each plans -------------------------------------------------------


def trained_runs(configfile: str) -> int:
    """The registry's training jobs (an eval-only entry names a checkpoint instead; an entry
    with `seeds` trains once per seed)."""
    runs = yaml.safe_load((ROOT / configfile).read_text())["runs"]
    return sum(len(e.get("seeds", [0])) for e in runs.values() if "checkpoint" not in e)


PAPER_RUNS = trained_runs("config/paper.yaml")
EMBEDDED_RUNS = trained_runs("config/config.yaml")
SMOKE_RUNS = trained_runs("config/smoke.yaml")
EVAL_ONLY = (  # README "Evaluate any checkpoint": two hub checkpoints (the release and this one)
    "snakemake eval_only --cores all --configfile config/paper.yaml --config 'runs={my_checkpoint: "
    "{checkpoint: {source: hub, repo_id: MCG-NJU/RGE, revision: main}, "
    "eval_modes: [direct, reasoning]}}'"
)
ONE_ABLATION = {  # one training, its evaluation and score, the table showing it, the report
    "train_run": 1, "embed_eval": 1, "score_mmeb": 1, "metrics": 1, "table3": 1, "report": 1,
    "all": 1,
}  # fmt: skip
SLURM = "--profile workflow/profiles/slurm --configfile config/paper.yaml"
TRAIN = f"data/paper/train_run/{RUN}/summary.json"

# command as printed -> (tree it runs in, expected job counts: all of them, or a subset "⊇")
PLANNED = {
    "snakemake --cores all": ("fresh", {"train_run": EMBEDDED_RUNS, "make_synthetic": 1}),
    "snakemake --cores all --configfile config/smoke.yaml": (
        "fresh", {"train_run": SMOKE_RUNS, "make_synthetic": 1},
    ),
    "snakemake -n --configfile config/paper.yaml": (
        "fresh", {"train_run": PAPER_RUNS, "fetch_mmeb_train": 20, "fetch_mmeb_eval": 36},
    ),
    "snakemake -n --configfile config/paper.yaml --config mmeb_mirror=DIR "
    "train_subsets=ImageNet_1K,ChartQA eval_tasks=ImageNet-1K,HatefulMemes": (
        "fresh", {"fetch_mmeb_train": 2, "prepare_train": 2, "fetch_mmeb_eval": 2},
    ),
    "snakemake --cores all --forcerun data/embedded/train_run/alpha_1_1/summary.json": (
        # its rationales (synthetic) and the claims (alpha_1_1 is an arm of the α ordering and
        # a run of the α / lr rule)
        "embedded-done", {**ONE_ABLATION, "rationale_probe": 1, "claims": 1},
    ),
    f"snakemake {SLURM}": ("fresh", {"train_run": PAPER_RUNS, "oracle_rationales": 160}),
    f"snakemake {TRAIN.replace(RUN, '<run>')} data/paper/score_mmeb/<run>/direct.json {SLURM}": (
        "fresh", {"train_run": 1, "embed_eval": 1, "score_mmeb": 1, "cold_start": 1},
    ),
    f"snakemake {TRAIN.replace(RUN, '<run>')} {SLURM} --forcerun train_run": (
        "paper-done", {"train_run": 1},
    ),
    f"snakemake {SLURM} --forcerun {TRAIN.replace(RUN, '<run>')}": (
        "paper-done", ONE_ABLATION,
    ),
    EVAL_ONLY: ("fresh", {"fetch_checkpoint": 2, "embed_eval": 4, "train_run": None}),
    # README "Seeds": one extra full-pipeline seed: new benchmark, backbone and cold start
    "snakemake --cores all --config seed=1 study=embedded_seed1 "
    "mmeb_mirror=data/embedded_seed1/make_synthetic": (
        "fresh", {"make_synthetic": 1, "pretrain_backbone": 1, "cold_start": 1,
                  "train_run": EMBEDDED_RUNS, "pool_seeds": 5},
    ),
}  # fmt: skip
MAKE = {"make study", "make test"}
PREFETCH = [  # README "Running on a cluster": the oracle's weights fetched on the login node
    "export HF_HOME=/shared/$USER/hf",
    "hf download OpenGVLab/InternVL3_5-38B",
    "export HF_HUB_OFFLINE=1",
]
DVC_WORKFLOW = [  # the five-line workflow, in order (test_dvc_workflow_from_the_readme)
    "dvc repro",
    "git add dvc.lock && git commit -m 'study results'",
    "python workflow/exp.py -S config/config.yaml:+runs.rge.alpha_con=5 && dvc exp show --only-changed",
    "dvc push",
    "git clone <repo> rge2 && cd rge2 && dvc pull",
    "snakemake phases --touch --cores 1",
]


def test_every_readme_command_is_run_by_a_test():
    printed = readme_commands()
    known = set(PLANNED) | MAKE | set(DVC_WORKFLOW) | set(PREFETCH) | {"dvc commit -f"}
    assert not [c for c in printed if c not in known], "README commands no test runs"
    assert not [c for c in known if c not in printed], "commands this test runs, gone from README"


def test_targets_come_before_options():
    """`--forcerun`, `--configfile` and `--config` read every word after them: a target there
    is taken as a rule, a config file or a key."""
    for cmd in readme_commands():
        words = shlex.split(cmd.split("&&")[-1])
        if words[0] != "snakemake":
            continue
        seen_option = False
        for word in words[1:]:
            seen_option |= word.startswith("-")
            looks_like_target = word.startswith("data/") or word == "phases"
            assert not (seen_option and looks_like_target and not _option_value(words, word)), (
                f"{cmd}: target {word} after an option"
            )


def _option_value(words: list[str], word: str) -> bool:
    """Whether ``word`` is the value of the option just before it taking one file
    (``--forcerun FILE``: a file whose job to force, not a target)."""
    i = words.index(word)
    return words[i - 1] in ("--forcerun", "-R")


def finished_tree(dest: Path, configfile: str) -> Path:
    """A copy of the checkout whose study (``phases``) is complete: every output made as an
    empty file or folder, then marked up to date with `snakemake --touch`."""
    return make_outputs(copy_checkout(dest), configfile)


def make_outputs(dest: Path, configfile: str) -> Path:
    """``dest``'s study made complete in a second: empty outputs, marked up to date."""

    def smk(*args: str):  # the tree's own Snakefile: its commands name its own src
        return snakemake(*args, "--configfile", configfile, cwd=dest, snakefile=dest / "Snakefile")

    summary = smk("phases", "--summary")
    assert summary.returncode == 0, summary.stderr[-3000:]
    for line in summary.stdout.splitlines()[1:]:
        path = dest / line.split("\t", 1)[0]
        if "." in path.name:  # a file (outputs without a suffix are folders)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.touch()
        else:  # a folder with a file in it (DVC keeps no empty folder)
            path.mkdir(parents=True, exist_ok=True)
            (path / "made").write_text(str(path.relative_to(dest)))
    touched = smk("phases", "--touch", "--cores", "1")
    assert touched.returncode == 0, touched.stderr[-3000:]
    plan = smk("phases", "-n")
    assert "Nothing to be done" in plan.stdout + plan.stderr, plan.stdout[-2000:]
    return dest


@pytest.fixture(scope="module")
def trees(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("readme")
    return {
        "fresh": copy_checkout(base / "fresh"),
        "embedded-done": finished_tree(base / "embedded", "config/config.yaml"),
        "paper-done": finished_tree(base / "paper", "config/paper.yaml"),
    }


def as_dry_run(cmd: str, mirror: Path) -> list[str]:
    """The printed command, placeholders filled, with `-n` right after `snakemake`."""
    words = shlex.split(cmd.replace("<run>", RUN).replace("=DIR", f"={mirror}"))
    assert words[0] == "snakemake"
    return words[1:] if "-n" in words else ["-n", *words[1:]]


@pytest.mark.parametrize("cmd", list(PLANNED))
def test_readme_snakemake_command_plans_what_it_says(cmd, trees, tmp_path):
    tree, expected = PLANNED[cmd]
    proc = snakemake(
        *as_dry_run(cmd, tmp_path), cwd=trees[tree], snakefile=trees[tree] / "Snakefile"
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    counts = job_counts(proc.stdout)
    counts.pop("total")
    if tree.endswith("-done"):  # the whole plan, nothing else
        assert counts == expected, cmd
    else:
        assert {k: counts.get(k) for k in expected} == expected, (cmd, counts)


def make_dry(target: str, cwd: Path) -> list[str]:
    proc = subprocess.run(
        ["make", "-n", target], cwd=cwd, capture_output=True, text=True, check=True
    )
    return proc.stdout.splitlines()


def test_make_study_runs_the_embedded_study(trees):
    """`make study` = the venv, then this one Snakemake command (planned here, not run)."""
    lines = [line for line in make_dry("study", trees["fresh"]) if line.startswith("snakemake")]
    assert lines == ["snakemake --cores all --workflow-profile workflow/profiles/default"]
    proc = snakemake("-n", *shlex.split(lines[0])[1:], cwd=trees["fresh"])
    assert job_counts(proc.stdout)["train_run"] == EMBEDDED_RUNS


def test_make_test_lints_then_runs_the_suite(trees):
    """`make test` runs the linters and this very suite (it cannot run inside itself)."""
    lines = make_dry("test", trees["fresh"])
    for cmd in ("ruff check .", "ruff format --check .", "snakemake --lint", "pytest -q"):
        assert cmd in lines, lines
    assert lines.index("snakemake --lint") < lines.index("pytest -q")


# --- the DVC workflow, as printed, on the smoke config ----------------------------------------

SMOKE = "config/smoke.yaml"
# Stand-in for the stages' work: Snakemake marks the jobs it would run as done (and lists them).
TOUCH = "snakemake --touch --cores 1"


def shell(cmd: str, cwd: Path) -> str:
    """A printed command run by bash as printed, the smoke config substituted for the embedded."""
    from tests.workflow.test_dvc import run

    cmd = cmd.replace("config/config.yaml", SMOKE).replace("<repo>", str(cwd / "repo"))
    if cmd.startswith("snakemake"):  # the lock was made with the smoke config (README)
        cmd += f" --configfile {SMOKE}"
    proc = run(["bash", "-c", cmd], cwd)
    return proc.stdout + proc.stderr


def outputs(repo: Path) -> set[str]:
    return {str(p.relative_to(repo)) for p in (repo / "data/smoke").rglob("*")}


def test_dvc_workflow_after_make_study_loses_nothing(tmp_path):
    """`make study` (Snakemake alone), then the README's DVC workflow: `dvc commit -f`, the lock
    committed, one experiment; it reruns only the changed run's jobs and deletes nothing."""
    from tests.workflow.test_dvc import PHASES, STAGE_RAN, dvc, executed_jobs, run, scratch_repo

    repo = scratch_repo(tmp_path / "repo", SMOKE)
    dvc_yaml = repo / "dvc.yaml"
    text, n = re.subn(r"(?m)^(\s+snakemake: ).*$", rf"\g<1>{TOUCH}", dvc_yaml.read_text())
    assert n == 1
    dvc_yaml.write_text(text)
    run(["git", "commit", "-qam", "stand-in: snakemake --touch"], repo)
    make_outputs(repo, SMOKE)  # the state `make study` leaves
    made = outputs(repo)

    assert "dvc commit -f" in readme_commands()
    shell("dvc commit -f", repo)
    repro = shell(DVC_WORKFLOW[0], repo)  # `dvc repro` now runs nothing
    assert STAGE_RAN.findall(repro) == [], repro[-3000:]
    shell(DVC_WORKFLOW[1], repo)  # the lock committed
    assert not run(["git", "status", "--porcelain", "dvc.lock"], repo).stdout
    exp = shell(DVC_WORKFLOW[2], repo)
    assert STAGE_RAN.findall(exp) == ["train", "evaluate", "report"], exp[-3000:]
    jobs = executed_jobs(exp)
    # the smoke config trains rge at seeds 0 and 1: both replicates retrain, nothing else does
    assert sorted(w["run"] for r, w in jobs if r == "train_run") == ["rge@0", "rge@1"], jobs
    for rule, wildcards in jobs:  # other runs' jobs and the data/rationales phases stay
        run = wildcards.get("run", "rge").split("@")[0]  # a replicate or the pooled base run
        assert run == "rge" and "subset" not in wildcards, (rule, wildcards)
    # nothing deleted (the experiment's stand-in jobs may add log files beside them)
    assert made <= outputs(repo), sorted(made - outputs(repo))[:20]
    name = re.search(r"Reproducing experiment '([\w-]+)'", exp).group(1)
    assert exp.count(name) >= 2, exp[-2000:]  # ... and `dvc exp show` lists it
    assert set(PHASES) <= set(yaml.safe_load((repo / "dvc.lock").read_text())["stages"])

    shell(DVC_WORKFLOW[3], repo)  # dvc push
    shell(DVC_WORKFLOW[4], tmp_path)  # git clone <repo> rge2 && cd rge2 && dvc pull
    clone = tmp_path / "rge2"
    shell(DVC_WORKFLOW[5], clone)  # snakemake phases --touch --cores 1
    assert made <= outputs(clone), sorted(made - outputs(clone))[:20]
    plan = snakemake(
        "phases", "-n", "--configfile", SMOKE, cwd=clone, snakefile=clone / "Snakefile"
    )
    assert "Nothing to be done" in plan.stdout + plan.stderr, plan.stdout[-2000:]
    assert "Data and pipelines are up to date" in dvc("status", cwd=clone).stdout


FAKE_DVC = """#!/bin/sh
# stand-in for `dvc exp run -S ...`: rewrites the config as DVC does, then works until killed
printf 'runs: {}\\n' > config/config.yaml
echo started > started
exec sleep 60
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_experiment_leaves_the_config_as_it_was(tmp_path, signum):
    repo = tmp_path / "repo"
    (repo / "workflow").mkdir(parents=True)
    shutil.copy(ROOT / "workflow/exp.py", repo / "workflow/exp.py")
    shutil.copytree(ROOT / "config", repo / "config")
    before = (repo / "config/config.yaml").read_bytes()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "dvc").write_text(FAKE_DVC)
    (bin_dir / "dvc").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}
    cmd = [sys.executable, "workflow/exp.py", "-S", "config/config.yaml:+runs.rge.alpha_con=5"]
    proc = subprocess.Popen(cmd, cwd=repo, env=env, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while not (repo / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert (repo / "config/config.yaml").read_bytes() != before  # rewritten, as by DVC
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode != 0
    assert (repo / "config/config.yaml").read_bytes() == before
    assert "config restored (config/config.yaml)" in err, err


def test_prefetch_downloads_the_oracle_of_the_paper_config_into_hf_home(tmp_path):
    """The login-node prefetch, with a stand-in `hf` (no network here) that records its call."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "hf").write_text('#!/bin/sh\necho "$HF_HOME $*" > "$HF_RECORD"\n')
    (bin_dir / "hf").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "USER": "me",
           "HF_RECORD": str(tmp_path / "hf.txt")}  # fmt: skip
    script = "\n".join([*PREFETCH, 'test "$HF_HUB_OFFLINE" = 1'])
    subprocess.run(["bash", "-ec", script], env=env, check=True)
    oracle = yaml.safe_load((ROOT / "config/paper.yaml").read_text())["rationales"]["settings"]
    assert (tmp_path / "hf.txt").read_text().split() == [
        "/shared/me/hf",
        "download",
        oracle["model"],
    ]
