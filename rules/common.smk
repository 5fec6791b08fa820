# Shared wiring: the config (validated and resolved by rge.config), the one stage command, and
# the params, threads and resources of each job; the output root of the study. No logic here: every
# decision is a one-line call into rge.config (unit-tested in tests/unit/test_config.py).

import json
import os
import re
import shlex
import sys

# This checkout's rge, whatever rge the environment has installed.
sys.path.insert(0, os.path.join(workflow.basedir, "src"))
import rge.config as rge_config
from rge.stages._cli import apply_thread_policy

# Jobs start with OpenMP threads that sleep when idle (OMP_WAIT_POLICY=PASSIVE, unless the user
# set it): spinning threads made a two-thread torch job 6-20x slower while another process held
# a core; it must be in the environment before a stage imports torch, hence here.
apply_thread_policy()
# Jobs run side by side on one terminal: each prints whole progress lines naming its job, never
# a redrawn bar that another job's bar overwrites (rge.progress; RGE_PROGRESS=bar restores bars).
os.environ.setdefault("RGE_PROGRESS", "lines")

try:
    rge_config.validate(
        config, rge_config.load_schema(os.path.join(workflow.basedir, rge_config.SCHEMA))
    )
    TRAIN_SUBSETS = rge_config.train_subsets(config)
    EVAL_TASKS = rge_config.eval_tasks(config)
    # A dry run submits nothing: planning with the placeholder is fine. (workflow.dryrun is
    # still False while the Snakefile is read; the output settings already know.)
    if not getattr(workflow.output_settings, "dryrun", False):
        default_resources = workflow.resource_settings.default_resources
        rge_config.check_slurm_account(getattr(default_resources, "args", None) or [])
except rge_config.ConfigError as err:
    sys.exit(f"config error: {err}")  # one line, not a dump of the schema

BENCHES = rge_config.benches(config)
RUNS = list(config["runs"])
# Everything the study writes lies under data/<study>/ (smoke never overwrites embedded).
ROOT = rge_config.output_root(config)


wildcard_constraints:
    subset="|".join(map(re.escape, config["tasks"]["train"])),
    task="|".join(map(re.escape, config["tasks"]["eval"])),
    bench="|".join(map(re.escape, BENCHES)),
    run="|".join(map(re.escape, RUNS)),
    mode="direct|reasoning",
    shard=r"\d+",
    variant="consistent|wrong_target|wrong_query",
    qmode="direct|reasoning",
    tmode="direct|reasoning",


# The command of every job: its stage module; its config slice (a tracked param: a changed slice
# reruns exactly the jobs whose stage reads the change); its named inputs/outputs; its log.
STAGE = "{params.run_with}python -m rge.stages.{params.stage} --cfg {params.cfg:q} {params.io} --log {log:q}"
# Training stages go through the launcher (torchrun / srun when the job has several GPUs).
LAUNCH = "python -m rge.launch -- "
# Stages in an environment that cannot install rge's pins (vLLM, report) run from this
# checkout's src, named relative to the working directory so a moved checkout plans nothing.
FROM_SRC = f"PYTHONPATH={shlex.quote(os.path.relpath(os.path.join(workflow.basedir, 'src')))} "


def out(path):
    """``path`` under the study's output root (data/<study>/...)."""
    return f"{ROOT}/{path}"


def log_for(rule, name=""):
    """A job's log file: data/<study>/logs/<rule>[/<name>].log."""
    return out(f"logs/{rule}/{name}.log" if name else f"logs/{rule}.log")


def repo_file(path):
    """A file shipped with this repository, relative to the working directory."""
    return os.path.relpath(os.path.join(workflow.basedir, path))


def stage_params(rule, run_with=""):
    """A rule's params: its stage module (= the rule's name), its config slice as JSON, its
    --input/--output flags and its command prefix (``LAUNCH``, ``FROM_SRC`` or nothing)."""

    def cfg(wildcards):
        return json.dumps(rge_config.slice_for(config, rule, wildcards))

    return {"stage": rule, "cfg": cfg, "io": stage_io, "run_with": run_with}


def stage_io(wildcards, input, output):
    """`--input name=path ... --output name=path ...` for a rule's named inputs and outputs."""
    args = []
    for flag, files in (("--input", input), ("--output", output)):
        for name, value in files.items():
            for path in [value] if isinstance(value, str) else value:
                args.append(f"{flag} {shlex.quote(f'{name}={path}')}")
    return " ".join(args)


def threads_for(rule):
    """CPU threads of a rule's jobs (config `resources.<rule>.threads`, default 1).

    Snakemake exports OMP_NUM_THREADS = threads (capped at --cores), so torch in parallel jobs
    never oversubscribes the cores (spinning OpenMP threads cost up to 30x on 2 cores).
    """
    return config["resources"].get(rule, {}).get("threads", 1)


def resources_for(rule):
    """A rule's scheduler resources (`resources.<rule>`: gpu, mem_mb, runtime, ...)."""
    return {k: v for k, v in config["resources"].get(rule, {}).items() if k != "threads"}


include: "paths.smk"
