# Shared helpers: config validation, task/run selection, and the stage command line.
# Rules call the named functions below; no lambdas, no logic inside rules.

import json
import os
import re
import shlex

from snakemake.utils import validate


validate(config, schema="../workflow/schemas/config.schema.yaml")

# Every rule's shell command is `python -m rge.stages.<rule> --cfg {params.cfg:q} {params.io}
# --log {log:q}`: {params.io} carries the rule's named inputs/outputs (stage_io), {params.cfg}
# the JSON config slice (tracked by Snakemake: a changed slice reruns exactly the jobs that
# read it).


def selected(names, knob, what):
    """Names from the registry, restricted by a command-line knob ("all" or a comma list)."""
    names = list(names)
    if knob in (None, "", "all"):
        return names
    wanted = [n.strip() for n in str(knob).split(",") if n.strip()]
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise ValueError(f"config: {what} {unknown} not in the registry; known: {names}")
    return wanted


TRAIN_SUBSETS = selected(config["tasks"]["train"], config["train_subsets"], "train_subsets")
EVAL_TASKS = selected(config["tasks"]["eval"], config["eval_tasks"], "eval_tasks")
BENCHES = list(config["tasks"]["retrieval"])
RUNS = list(config["runs"])


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


def stage_io(wildcards, input, output):
    """`--input name=path ... --output name=path ...` for a rule's named inputs and outputs."""
    args = []
    for flag, files in (("--input", input), ("--output", output)):
        for name, value in files.items():
            for path in [value] if isinstance(value, str) else value:
                args.append(f"{flag} {shlex.quote(f'{name}={path}')}")
    return " ".join(args)


def rule_threads(rule):
    """CPU threads of a rule's jobs (config `resources.<rule>.threads`, default 1).

    Snakemake exports OMP_NUM_THREADS = threads (capped at --cores), so torch in parallel jobs
    never oversubscribes the cores (spinning OpenMP threads cost up to 30x on 2 cores).
    """
    return config.get("resources", {}).get(rule, {}).get("threads", 1)


def rule_resources(rule):
    """A rule's scheduler resources from the config (`resources.<rule>`: gpu, mem_mb, runtime, ...)."""
    spec = config.get("resources", {}).get(rule, {})
    return {k: v for k, v in spec.items() if k != "threads"}


def repo_file(path):
    """A file shipped in this repository (e.g. the paper's numbers), whatever the working directory."""
    return os.path.join(workflow.basedir, path)


def as_json(obj):
    """A config slice as JSON, in the config's own order (tables list rows in that order)."""
    return json.dumps(obj)


include: "slices.smk"
