"""The study's configuration: validation, run resolution, table rows, per-rule slices, views.

One config file (``config/config.yaml``, ``config/smoke.yaml``, ``config/paper.yaml``) drives
the whole study. This module is its one reader:

- ``validate`` checks it against ``workflow/schemas/config.schema.yaml`` and fills the schema's
  defaults in place (the schema is the one source of defaults and descriptions); a bad config
  raises ``ConfigError`` with ONE line: the key path, what is wrong, and "did you mean" for a
  misspelt key.
- Run resolution: a run of the registry (``runs:``) is its entry over the ``train:`` defaults,
  restricted by the command-line knobs ``train_subsets=`` / ``eval_tasks=``. An entry with
  ``seeds: [0, 1, 2]`` is expanded at validation into the replicates ``<run>@0`` ... (issue 12);
  tables name the base run, which ``replicates``/``seeded``/``active`` etc. accept, and read
  its ``pool_seeds`` files.
- ``slice_for(config, rule, wildcards)``: the JSON-able dict a rule's stage receives. It holds
  exactly the keys that stage reads, so Snakemake's params tracking reruns only the jobs whose
  settings changed (e.g. the LM-only cold start does not carry ``train.alpha_con``).
- One frozen view per stage family, built from a slice with ``from_slice`` (a missing key
  raises ``MissingKeyError`` naming it): data (``SyntheticView``, ``FetchTrainView``,
  ``FetchEvalView``, ``FetchRetrievalView``, ``PrepareView``, ``SelectionView``), training
  (``TrainingView``), evaluation (``EvaluationView``), backbone (``BackboneView`` with its
  ``PretrainView``), rationales (``RationalesView``, ``RationaleCheckView``), diagnostics
  (``DiagnosticsView``), report (``ReportView`` for tables and Figure 4, ``PageView``), and
  ``GenerationView`` inside those that generate. A stage reads its view only: a key the schema
  defaults has no second default in code; the few view defaults are for keys no config sets
  (test and tuning knobs such as Figure 4's ``window``). ``thaw``/``as_dict`` give plain
  JSON-able data back (what a report records, what a backend is handed).

Pure functions and dataclasses: no I/O at import; ``load_yaml``/``load_schema`` read files when
called; ``jsonschema`` is imported when validating.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

SCHEMA = Path("workflow/schemas/config.schema.yaml")  # relative to the repository root
TABLES = {
    "table1": "table1_leakage_small",
    "table2": "table2_mmeb_main",
    "table3": "table3_loss_balance",
    "table4": "table4_contrastive_pair",
    "table6": "table6_reasoning_at_inference",
    "table7": "table7_flickr_coco",
    "table15": "table15_mmeb_per_dataset",
}
ROW_TABLES = ("table1", "table3", "table4", "table6")
MODES = ("direct", "reasoning")
# The RGE release whose instruction-rewrite tables the rge_release protocol reads (issue 11):
# GitHub MCG-NJU/RGE at a pinned commit (the same values as rge.data.protocol, which imports
# yaml; this module stays import-light for the Snakefile).
PROMPT_TABLES_REPO = "MCG-NJU/RGE"
PROMPT_TABLES_COMMIT = "60744447ffc0d51471a85757c4ea4be86650d8c5"
# A YAML 1.1 float (PyYAML, hence Snakemake, reads `1e-4` and DVC's `2e-05` as strings).
_FLOAT = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


class ConfigError(ValueError):
    """A config that does not fit the schema or the registry; the message is one line."""


class MissingKeyError(ConfigError, KeyError):
    """A slice without a key its view needs (also a ``KeyError``: a key is missing)."""

    __str__ = Exception.__str__  # the message as written, not KeyError's quoted repr


# --- loading and validation -------------------------------------------------------------------


def load_yaml(path: str | Path) -> dict:
    """A YAML file read as Snakemake reads it (PyYAML, YAML 1.1)."""
    import yaml

    with open(path) as fh:
        return yaml.safe_load(fh) or {}


def load_schema(path: str | Path = SCHEMA) -> dict:
    """The config schema (JSON Schema 2020-12 written in YAML)."""
    return load_yaml(path)


def load(path: str | Path, schema_path: str | Path = SCHEMA) -> dict:
    """A config file, validated and with the schema's defaults filled in."""
    return validate(load_yaml(path), load_schema(schema_path))


def validate(config: dict, schema: dict) -> dict:
    """Check ``config`` against ``schema``; fill defaults and YAML 1.1 numbers in place.

    Defaults are set wherever the validator meets a ``properties`` keyword (also inside registry
    entries and ``$ref``s), as ``snakemake.utils.validate`` does. A string that YAML 1.1 left
    unparsed (``1e-4``) where the schema wants a number becomes that number.

    Returns:
        ``config`` itself.
    Raises:
        ConfigError: one line naming the first wrong key, e.g.
            ``rationales.settings: unknown key 'tensor_paralel_size' (did you mean
            'tensor_parallel_size'?)``.
    """
    from jsonschema import Draft202012Validator, validators

    base = Draft202012Validator.VALIDATORS["properties"]

    def properties(validator, props, instance, subschema):
        if isinstance(instance, dict):
            for key, sub in props.items():
                if "default" in sub and key not in instance:
                    instance[key] = _copy(sub["default"])
                value = instance.get(key)
                # YAML 1.1 (PyYAML, hence Snakemake) reads 1e-4, and the 2e-05 that
                # `dvc exp run -S` writes, as strings: take them as the numbers they spell.
                if isinstance(value, str) and _FLOAT.match(value.strip()):
                    number = float(value)
                    number = int(number) if number.is_integer() else number
                    check = validator.evolve(schema=sub)
                    if check.is_valid(number) and not check.is_valid(value):
                        instance[key] = number
        yield from base(validator, props, instance, subschema)

    cls = validators.extend(Draft202012Validator, {"properties": properties})
    errors = sorted(cls(schema).iter_errors(config), key=lambda e: [str(p) for p in e.path])
    if errors:
        raise ConfigError(describe(errors[0]))
    expand_seeds(config)
    for run in config.get("runs", {}):
        if eval_only(config, run):
            checkpoint(config, run)  # a hub entry without repo_id fails here, not at a job
    _check_comparisons(config)
    return config


SEED_SEP = "@"  # a replicate's registry name: <base run>@<seed>, e.g. rge@1


def expand_seeds(config: dict) -> dict:
    """Replace each registry entry with ``seeds: [s, ...]`` by its replicates (issue 12 item 3).

    ``rge: {seeds: [0, 1, 2], ...}`` becomes ``rge@0``, ``rge@1``, ``rge@2`` in its place in
    the registry, each the entry without ``seeds`` and with its own ``seed``. Replicates share
    data, backbone and cold start (those jobs stay seeded by the study's ``seed``); only their
    training (batch order, initial draws) and evaluation sampling differ. Idempotent: an
    expanded registry has no ``seeds`` left.

    Returns:
        ``config`` itself (``config["runs"]`` replaced).
    Raises:
        ConfigError: ``seeds`` on an eval-only entry (nothing is trained to replicate), or a
            replicate's name is already in the registry.
    """
    runs = config.get("runs")
    if not runs or not any("seeds" in entry for entry in runs.values()):
        return config
    out: dict = {}
    for name, entry in runs.items():
        if "seeds" not in entry:
            out[name] = entry
            continue
        if "checkpoint" in entry:
            raise ConfigError(f"runs.{name}.seeds: an eval-only run is not trained; no seeds")
        for seed in entry["seeds"]:
            replica = f"{name}{SEED_SEP}{int(seed)}"
            if replica in runs or replica in out:
                raise ConfigError(f"runs.{name}.seeds: {replica!r} is already in the registry")
            out[replica] = {**{k: v for k, v in entry.items() if k != "seeds"}, "seed": int(seed)}
    config["runs"] = out
    return config


# Tables whose rows compare training recipes with each other (Table 1: the contrastive pair at
# small scale; 3: the loss balance; 4: the pair; 7: baseline vs RGE run): an eval-only
# checkpoint was trained elsewhere, by another recipe, so it never stands in such a row.
TRAINING_COMPARISONS = ("table1", "table3", "table4")


def _check_comparisons(config: Mapping) -> None:
    report = config.get("report", {})

    def refuse(run: str, where: str) -> None:
        if "runs" in config and known(config, run) and eval_only(config, run):
            raise ConfigError(
                f"report.{where}: {run!r} is eval-only (not trained here); it cannot stand in a "
                "train-vs-train comparison (list it in table2/table6/table15 or table7.eval_only_runs)"
            )

    for table in TRAINING_COMPARISONS:
        for i, row in enumerate(report.get(table, {}).get("rows", [])):
            refuse(row["run"], f"{table}.rows[{i}]")
    for key in ("baseline_run", "rge_run"):
        if "table7" in report:
            refuse(report["table7"][key], f"table7.{key}")


def describe(error: Any) -> str:
    """One line for a ``jsonschema.ValidationError``: key path, what is wrong, a suggestion."""
    where = _dotted(error.absolute_path) or "config"
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = sorted(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - set(known))
        unknown = ", ".join(f"{k!r}{_did_you_mean(k, known)}" for k in extra)
        return f"{where}: unknown key {unknown}; known: {', '.join(known)}"
    if error.validator == "enum":
        options = [str(v) for v in error.validator_value]
        hint = _did_you_mean(str(error.instance), options)
        return f"{where}: {error.instance!r} is not one of {', '.join(options)}{hint}"
    wants_number = "number" in str(error.validator_value)
    if error.validator == "type" and isinstance(error.instance, str) and wants_number:
        # PyYAML (YAML 1.1) reads 1e-4 as a string; `validate` already turned every such
        # string into its number, so this one is not a number at all.
        return f"{where}: {error.instance!r} is a string, not a number (write e.g. 1.0e-4)"
    if error.validator == "oneOf" and "description" in error.schema:
        return f"{where}: {error.schema['description']}"
    return f"{where}: {error.message}"


def _did_you_mean(word: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _dotted(path: Sequence[Any]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


# --- the registries and run resolution ----------------------------------------------------------


def selected(names: Sequence[str], knob: str | None, what: str) -> list[str]:
    """Names from a registry restricted by a command-line knob ("all" or a comma list).

    Raises:
        ConfigError: a wanted name is not in the registry (naming the knob).
    """
    names = list(names)
    if knob in (None, "", "all"):
        return names
    wanted = [n.strip() for n in str(knob).split(",") if n.strip()]
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise ConfigError(f"{what}: {unknown} not in the registry; known: {names}")
    return wanted


PLACEHOLDER_ACCOUNTS = ("my_project",)  # workflow/profiles/slurm/config.yaml ships this one


def check_slurm_account(default_resources: Sequence[str]) -> None:
    """Refuse the SLURM profile's placeholder account before any job is submitted.

    Args:
        default_resources: Snakemake's default resources as ``name=value`` strings (the
            profile's ``default-resources`` or ``--default-resources``).
    Raises:
        ConfigError: ``slurm_account`` is still the placeholder (sbatch would refuse every
            job with a bare "Invalid account", or charge a wrong project).
    """
    for item in default_resources:
        name, _, value = str(item).partition("=")
        if name.strip() == "slurm_account" and value.strip("'\" ") in PLACEHOLDER_ACCOUNTS:
            raise ConfigError(
                f"slurm_account: {value.strip()} is the profile's placeholder; set "
                "default-resources: slurm_account in workflow/profiles/slurm/config.yaml to "
                "your account (`sacctmgr show assoc user=$USER`) or pass "
                "--default-resources slurm_account=<account>"
            )


def train_subsets(config: Mapping) -> list[str]:
    """The training subsets of the study (``tasks.train`` restricted by ``train_subsets=``)."""
    return selected(config["tasks"]["train"], config["train_subsets"], "train_subsets")


def eval_tasks(config: Mapping) -> list[str]:
    """The MMEB-eval tasks of the study (``tasks.eval`` restricted by ``eval_tasks=``)."""
    return selected(config["tasks"]["eval"], config["eval_tasks"], "eval_tasks")


def benches(config: Mapping) -> list[str]:
    """The Flickr30K/COCO-style retrieval sets."""
    return list(config["tasks"]["retrieval"])


def output_root(config: Mapping) -> str:
    """Where a study writes everything it makes: ``data/<study>`` (relative to the workdir)."""
    return f"data/{config['study']}"


def base_run(run: str) -> str:
    """The base run of a registry run: ``rge@1`` -> ``rge``; a run without seeds is its own."""
    return run.split(SEED_SEP, 1)[0]


def replicates(config: Mapping, run: str) -> list[str]:
    """The registry runs that replicate ``run`` over seeds (issue 12 item 3), in seed order.

    A run without ``seeds`` (or a registry run such as ``rge@1`` itself) is its own single
    replicate: ``[run]``; so is a name the registry does not know. Tables name the base run;
    its rows pool these replicates (``pool_seeds``).
    """
    runs = config["runs"]
    if run in runs:
        return [run]
    found = [r for r in runs if SEED_SEP in r and base_run(r) == run]
    return found or [run]


def seeded(config: Mapping, run: str) -> bool:
    """Whether ``run`` is a base run whose registry entry was expanded over ``seeds``."""
    return run not in config["runs"] and replicates(config, run) != [run]


def known(config: Mapping, run: str) -> bool:
    """Whether ``run`` is a registry run or the base name of seeded replicates."""
    return run in config["runs"] or seeded(config, run)


def _entry(config: Mapping, run: str) -> Mapping:
    """The registry entry of ``run``; a base name reads its first replicate's (they differ
    only in ``seed``)."""
    return config["runs"][replicates(config, run)[0]]


def run_seed(config: Mapping, run: str) -> int:
    """The training seed of registry run ``run`` (a replicate's own seed, else the study's)."""
    return int(_entry(config, run).get("seed", config["seed"]))


def eval_only(config: Mapping, run: str) -> bool:
    """Whether registry entry ``run`` names a checkpoint to evaluate instead of training."""
    return "checkpoint" in _entry(config, run)


def checkpoint(config: Mapping, run: str) -> dict:
    """An eval-only run's checkpoint entry (``source``: hub | path | backbone | cold_start).

    Raises:
        ConfigError: ``run`` trains, or a ``hub`` entry lacks ``repo_id``, a ``path`` entry
            ``path``.
    """
    if not eval_only(config, run):
        raise ConfigError(f"runs.{run}: a trained run has no checkpoint entry")
    entry = _entry(config, run)["checkpoint"]
    need = {"hub": "repo_id", "path": "path"}.get(entry["source"])
    if need and not entry.get(need):
        raise ConfigError(f"runs.{run}.checkpoint: source {entry['source']} needs {need}")
    return dict(entry)


def run_model(config: Mapping, run: str) -> str:
    """The model directory a run's evaluation jobs read, relative to the working directory.

    A trained run: its ``train_run`` output; eval-only: the ``fetch_checkpoint`` output (hub),
    the given directory (path), the study's pretrained backbone, untrained (backbone), or the
    LM-only cold start, before any contrastive training (cold_start).

    Raises:
        ConfigError: ``run`` is a seeded base name (each replicate has its own model).
    """
    root = output_root(config)
    if seeded(config, run):
        raise ConfigError(f"run {run!r} is replicated over seeds: name one of "
                          f"{replicates(config, run)}")  # fmt: skip
    if not eval_only(config, run):
        return f"{root}/train_run/{run}/model"
    entry = checkpoint(config, run)
    return {
        "hub": f"{root}/fetch_checkpoint/{run}/model",
        "path": entry.get("path", ""),
        "backbone": f"{root}/pretrain_backbone/model",
        "cold_start": f"{root}/cold_start/model",
    }[entry["source"]]


def run_config(config: Mapping, run: str) -> dict:
    """A run's training settings: its registry entry over ``train:``, on the study's subsets.

    ``eval_modes``/``eval_tasks`` are evaluation keys and stay out; ``subsets`` is the entry's
    subsets (default all) that the ``train_subsets=`` restriction leaves; ``data`` is
    ``all`` (the prepared subsets whole) unless the entry says ``cold_start`` (only the
    ``select_cold_start`` rows of those subsets: the paper's ablations stay within its 160K
    cold-start subset). A base name reads its first replicate.

    Raises:
        ConfigError: ``run`` is eval-only (it has no training settings).
    """
    if eval_only(config, run):
        raise ConfigError(f"runs.{run}: an eval-only run has no training settings")
    entry = _entry(config, run)
    merged = {
        **config["train"],
        **{k: v for k, v in entry.items() if k not in ("eval_modes", "eval_tasks", "seed")},
    }
    study = train_subsets(config)
    merged["subsets"] = [s for s in entry.get("subsets", study) if s in study]
    merged["data"] = entry.get("data", "all")
    return merged


def run_eval_tasks(config: Mapping, run: str) -> list[str]:
    """A run's eval tasks: its registry ``eval_tasks`` (e.g. Table 1's four), else all."""
    wanted = _entry(config, run).get("eval_tasks")
    return [t for t in eval_tasks(config) if wanted is None or t in wanted]


def run_modes(config: Mapping, run: str) -> list[str]:
    """The embedding modes a run is evaluated in (``direct`` and/or ``reasoning``)."""
    return list(_entry(config, run)["eval_modes"])


def active(config: Mapping, run: str) -> bool:
    """Whether the (possibly restricted) study trains and evaluates ``run``.

    ``run`` is a registry run or a seeded base name (active when its replicates are). A table
    row naming a run the registry lacks (the smoke config's short registry) or a run left
    without subsets or tasks by a restriction is not active.
    """
    if not known(config, run):
        return False
    if eval_only(config, run):
        return bool(run_eval_tasks(config, run))
    return bool(run_config(config, run)["subsets"]) and bool(run_eval_tasks(config, run))


def active_runs(config: Mapping) -> list[str]:
    """Every active run of the registry, in registry order (trained and eval-only)."""
    return [r for r in config["runs"] if active(config, r)]


def trained_runs(config: Mapping) -> list[str]:
    """The active runs the study trains (``train_run`` jobs): all but the eval-only ones."""
    return [r for r in active_runs(config) if not eval_only(config, r)]


def eval_only_runs(config: Mapping) -> list[str]:
    """The active eval-only runs (checkpoints evaluated without training), registry order."""
    return [r for r in active_runs(config) if eval_only(config, r)]


def hub_checkpoint_runs(config: Mapping) -> list[str]:
    """The active eval-only runs whose checkpoint comes from the hub (``fetch_checkpoint``)."""
    return [
        r for r in active_runs(config)
        if eval_only(config, r) and config["runs"][r]["checkpoint"]["source"] == "hub"
    ]  # fmt: skip


# --- tables -----------------------------------------------------------------------------------


def table_rows(config: Mapping, table: str) -> dict[str, tuple[str, str]]:
    """``{label: (run, mode)}`` of a row table (Tables 1, 3, 4, 6), active runs only.

    A row's ``label`` may name settings of its run's resolved config, e.g. Table 3's
    ``"{alpha_lm:g}:{alpha_con:g}"`` reads "1:10" for a run with alpha_lm 1 and alpha_con 10 (a
    label like ``1:10`` written in the config would not survive a ``dvc exp run -S`` rewrite:
    YAML 1.1 reads it as the base-60 integer 70).

    Raises:
        ConfigError: a label names a setting the run does not have.
    """
    rows = {}
    for i, row in enumerate(config["report"][table]["rows"]):
        if not active(config, row["run"]):
            continue
        run = row["run"]
        settings = _entry(config, run) if eval_only(config, run) else run_config(config, run)
        try:
            label = str(row["label"]).format_map(settings)
        except (KeyError, ValueError, IndexError, AttributeError) as err:
            raise ConfigError(f"report.{table}.rows[{i}].label: {row['label']!r}: {err}") from err
        rows[label] = (row["run"], row["mode"])
    return rows


def _active_rows(config: Mapping, table: str) -> list[Mapping]:
    """A row table's config rows whose run is active, in order (``table_rows``' rows)."""
    return [row for row in config["report"][table]["rows"] if active(config, row["run"])]


def table_runs(config: Mapping, table: str) -> list[str]:
    """The active runs a table shows: those of its rows, Table 7's two runs, or its ``runs``.

    Runs are named as the table names them: a seeded run by its base name (its rows pool the
    replicates), except in Table 7, which shows the first replicate (``table7_runs``).
    """
    spec = config["report"][table]
    if "rows" in spec:
        names = [row["run"] for row in spec["rows"]]
    elif table == "table7":
        names = [*table7_runs(config), *spec["eval_only_runs"]]
    else:
        names = spec["runs"]
    return [r for r in dict.fromkeys(names) if active(config, r)]


def reported_tables(config: Mapping) -> list[str]:
    """The paper tables the config asks for and has runs for, in the paper's order."""
    return [t for t in TABLES if t in config["report"] and table_runs(config, t)]


def table7_runs(config: Mapping) -> tuple[str, str]:
    """Table 7's (baseline run, RGE run) as registry runs: a seeded run's first replicate
    (Flickr/COCO retrieval is scored at one seed; its note says which)."""
    spec = config["report"]["table7"]
    return (replicates(config, spec["baseline_run"])[0], replicates(config, spec["rge_run"])[0])


def pooled_runs(config: Mapping) -> list[str]:
    """The seeded base runs some reported table shows (each gets ``pool_seeds`` files)."""
    shown = {r for t in reported_tables(config) for r in table_runs(config, t)}
    return [
        r for r in dict.fromkeys(map(base_run, config["runs"])) if r in shown and seeded(config, r)
    ]


def reported_runs(config: Mapping) -> list[str]:
    """Every registry run some reported table shows (a seeded run: all its replicates), sorted."""
    shown = {r for t in reported_tables(config) for r in table_runs(config, t)}
    return sorted({rep for r in shown for rep in replicates(config, r)})


def reported_trained_runs(config: Mapping) -> list[str]:
    """The reported registry runs that train here (they have training logs and summaries)."""
    return [r for r in reported_runs(config) if not eval_only(config, r)]


def diagnostics_subsets(config: Mapping) -> list[str]:
    """The training subsets of Figure 4's runs that the study has."""
    study = train_subsets(config)
    return [s for s in config["diagnostics"]["subsets"] if s in study]


def diagnostics_variants(config: Mapping) -> list[str]:
    """Figure 4's variants (none when the config has no ``diagnostics``)."""
    return list(config.get("diagnostics", {}).get("variants", []))


# --- per-rule slices: exactly what each stage reads ---------------------------------------------

# Training keys every loop reads (rge.train.loop.LoopSettings, model loading, DeepSpeed).
LOOP_KEYS = (
    "batch_size", "lr", "weight_decay", "warmup_steps", "max_steps", "epochs", "grad_clip",
    "checkpoint_every", "schedule", "min_lr_ratio", "chunk_size", "deepspeed",
)  # fmt: skip
# The objective's own keys (rge.train.objectives: the dataclass fields each objective declares).
OBJECTIVE_KEYS = {
    "baseline": ("temperature", "use_negatives"),
    "rge": ("pair", "alpha_lm", "alpha_con", "temperature", "max_new_tokens", "use_negatives"),
}


def _pixels(config: Mapping) -> dict:
    return {k: config["backbone"][k] for k in ("min_pixels", "max_pixels")}


def _mirror(config: Mapping, repo: str) -> str:
    """DIR/<repo> of the local mirror (laid out like the hub repo), or "" for the hub."""
    root = config["mmeb_mirror"]
    return f"{root}/{repo}" if root else ""


def _eval_task_specs(config: Mapping, run: str) -> dict:
    return {t: config["tasks"]["eval"][t] for t in run_eval_tasks(config, run)}


def _make_synthetic(config, wc):
    return {"seed": config["seed"], **config["benchmark"].get("synthetic", {})}


def _fetch_mmeb_train(config, wc):
    bench = config["benchmark"]
    return {
        "repo_id": bench["train_repo"], "revision": bench["train_revision"],
        "split": bench["train_split"], "mirror": _mirror(config, "MMEB-train"),
        "subset": wc["subset"],
    }  # fmt: skip


def _fetch_mmeb_eval(config, wc):
    bench = config["benchmark"]
    return {
        "repo_id": bench["eval_repo"], "revision": bench["eval_revision"],
        "mirror": _mirror(config, "MMEB-eval"), "task": wc["task"],
    }  # fmt: skip


def uses_prompt_tables(config: Mapping) -> bool:
    """Whether the study's prompt protocol reads the release's rewrite tables."""
    return config["evaluate"]["prompt_protocol"] == "rge_release"


def _fetch_prompt_tables(config, wc):
    """The RGE release's rewrite tables at the pinned commit; the synthetic benchmark's own
    tables (same schema, its own subsets) from its mirror."""
    synthetic = config["benchmark"]["source"] == "synthetic"
    return {
        "repo_id": PROMPT_TABLES_REPO, "revision": PROMPT_TABLES_COMMIT,
        "mirror": _mirror(config, "RGE") if synthetic else "",
    }  # fmt: skip


def _data_report(config, wc):
    return {
        "tasks": eval_tasks(config), "train_subsets": train_subsets(config),
        "prompt_protocol": config["evaluate"]["prompt_protocol"],
    }  # fmt: skip


def _fetch_retrieval(config, wc):
    entry = config["tasks"]["retrieval"][wc["bench"]]
    return {
        "repo_id": entry["repo"], "revision": entry["revision"],
        "captions_per_image": entry["max_captions"],
        "mirror": _mirror(config, f"retrieval/{wc['bench']}"), "bench": wc["bench"],
    }  # fmt: skip


def _prepare_train(config, wc):
    bench = config["benchmark"]
    return {
        "subset": wc["subset"], "split": bench["train_split"], "on_bad_row": bench["on_bad_row"],
        "max_rows": bench["max_rows_per_subset"],
    }  # fmt: skip


def _select_cold_start(config, wc):
    return {"seed": config["seed"], "size": config["cold_start"]["size"]}


def _pretrain_backbone(config, wc):
    """The backbone slice. With ``pretrain.caption_prompts: varied`` the pretrain block also
    carries ``evaluate.prompt_protocol``, so the prompt probe reads the image tasks' queries as
    evaluation shows them. WHY only then: ``fixed`` (or unset) must give the slice of the
    recipe before issue 12 byte for byte, so a study that does not opt in reruns nothing."""
    backbone = dict(config["backbone"])
    if "pretrain" in backbone:
        pretrain = dict(backbone["pretrain"])
        if not pretrain.get("question_share"):
            pretrain.pop("question_share", None)  # unset = 0: the slice before questions
        if pretrain.get("caption_prompts", "fixed") == "fixed":
            pretrain.pop("caption_prompts", None)
        else:
            pretrain["prompt_protocol"] = config["evaluate"]["prompt_protocol"]
        backbone["pretrain"] = pretrain
    return {"seed": config["seed"], **backbone, "generation": config["generation"]}


def _oracle_rationales(config, wc):
    r = config["rationales"]
    return {
        "subset": wc["subset"], "shard": int(wc["shard"]), "num_shards": r["num_shards"],
        "backend": r["backend"], "seed": config["seed"], "batch_size": r["batch_size"],
        "settings": r["settings"],
    }  # fmt: skip


def _check_rationales(config, wc):
    return {"subset": wc["subset"], "fail_on_bad": config["rationales"]["fail_on_bad"]}


def _cold_start(config, wc):
    """The LM-only cold start: loop keys of ``train:`` under the ``cold_start`` overrides."""
    train = {k: config["train"][k] for k in LOOP_KEYS if k in config["train"]}
    overrides = {k: v for k, v in config["cold_start"].items() if k != "size"}
    return {
        "seed": config["seed"], **_pixels(config), **train, **overrides,
        "prompt_protocol": config["evaluate"]["prompt_protocol"], "generation": config["generation"],
    }  # fmt: skip


def _train_run(config, wc):
    """One registry run: loop keys, its objective's keys, wiring recorded in the summary."""
    run = run_config(config, wc["run"])
    keys = (*LOOP_KEYS, *OBJECTIVE_KEYS[run["objective"]], "objective", "init", "subsets")
    # `data` only when it restricts: a run on all its data keeps the slice (and job) it had
    restrict = {"data": run["data"]} if run["data"] != "all" else {}
    return {
        "run": wc["run"], "seed": run_seed(config, wc["run"]), **_pixels(config),
        **{k: run[k] for k in run if k in keys}, **restrict,
        "prompt_protocol": config["evaluate"]["prompt_protocol"], "generation": config["generation"],
    }  # fmt: skip


def _leakage_curves(config, wc):
    d = config["diagnostics"]
    base = {k: config["train"][k] for k in ("lr", "alpha_lm", "alpha_con", "temperature")}
    own = {k: v for k, v in d.items() if k not in ("variants", "subsets")}
    return {
        "variant": wc["variant"], "seed": config["seed"], **_pixels(config), **base, **own,
        "prompt_protocol": config["evaluate"]["prompt_protocol"], "generation": config["generation"],
    }  # fmt: skip


def _fetch_checkpoint(config, wc):
    entry = checkpoint(config, wc["run"])
    return {
        "run": wc["run"], "repo_id": entry["repo_id"], "revision": entry["revision"],
        "add_emb": entry["add_emb"],
    }  # fmt: skip


def _embed_eval(config, wc):
    e = config["evaluate"]
    return {
        "run": wc["run"], "mode": wc["mode"], "tasks": _eval_task_specs(config, wc["run"]),
        "batch_size": e["batch_size"], "max_new_tokens": e["max_new_tokens"],
        "cache_dir": e["cache_dir"] or None, **_pixels(config),
        "prompt_protocol": e["prompt_protocol"], "generation": config["generation"],
        # seeds reasoning-mode sampling (generation.allow_sampling); a replicate's own seed
        "seed": run_seed(config, wc["run"]),
    }  # fmt: skip


def _score_mmeb(config, wc):
    return {
        "run": wc["run"], "mode": wc["mode"], "tasks": _eval_task_specs(config, wc["run"]),
        "eval_only": eval_only(config, wc["run"]),
    }  # fmt: skip


def _metrics(config, wc):
    return {"run": wc["run"], "mode": wc["mode"]}


def _pool_seeds(config, wc):
    """A seeded base run x mode: its replicates in seed order (the pooled file's rows)."""
    reps = replicates(config, wc["run"])
    return {
        "run": wc["run"], "mode": wc["mode"], "replicates": reps,
        "seeds": [run_seed(config, r) for r in reps],
    }  # fmt: skip


def _score_retrieval(config, wc):
    e = config["evaluate"]
    return {
        "run": wc["run"], "bench": wc["bench"], "query_mode": wc["qmode"],
        "target_mode": wc["tmode"], "batch_size": e["batch_size"],
        "max_new_tokens": e["max_new_tokens"], **_pixels(config),
        "prompt_protocol": e["prompt_protocol"], "generation": config["generation"],
        # seeds reasoning-mode sampling (generation.allow_sampling); a replicate's own seed
        "seed": run_seed(config, wc["run"]),
    }  # fmt: skip


def _row_table(table):
    def build(config, wc):
        spec = config["report"][table]
        cfg = {"study": config["study"], "rows": table_rows(config, table)}
        # Templated labels are filled again by the table stage from each run's training
        # summary: the label shows the settings the run was trained with, not the config's.
        templates = {}
        for row in _active_rows(config, table):
            if eval_only(config, row["run"]):
                continue  # no training settings: its label is the config's as written
            label = str(row["label"]).format_map(run_config(config, row["run"]))
            if label != str(row["label"]):
                templates[label] = str(row["label"])
        if templates:
            cfg["label_templates"] = templates
        if "columns" in spec:
            study = eval_tasks(config)
            cfg["columns"] = {k: v for k, v in spec["columns"].items() if k in study}
        return cfg

    return build


def _table2(config, wc):
    return {"study": config["study"], "pairs": config["report"]["table2"]["pairs"]}


def _table7(config, wc):
    spec = config["report"]["table7"]
    shown = [r for r in spec["eval_only_runs"] if active(config, r)]
    baseline, rge = table7_runs(config)
    return {
        "study": config["study"], **{k: v for k, v in spec.items() if k != "eval_only_runs"},
        "baseline_run": baseline, "rge_run": rge,
        "eval_only_modes": {r: run_modes(config, r) for r in shown},
    }  # fmt: skip


def _table15(config, wc):
    columns = config["report"]["table15"].get("paper_columns")
    return {"study": config["study"], **({"paper_columns": columns} if columns else {})}


def _figure4(config, wc):
    return {"study": config["study"]}


def _report(config, wc):
    study = eval_tasks(config)
    return {
        "study": config["study"], "runs": config["runs"],
        "tasks": {t: config["tasks"]["eval"][t] for t in study},
        # a seeded run's examples are those of its first replicate
        "baseline_run": replicates(config, "baseline")[0], "rge_run": replicates(config, "rge")[0],
    }  # fmt: skip


# --- the rationale probe and the claims (issue 12 items 2, 3, 7, 8) ---------------------------

# Fact prefixes that name no run: the backbone's probe report and Figure 4's variants.
FACT_SOURCES = ("backbone", "figure4")


def probes_rationales(config: Mapping) -> bool:
    """Whether rationales can be scored: the synthetic benchmark writes scene sidecars; the hub's
    MMEB has none (the paper config plans no rationale probe)."""
    return config["benchmark"]["source"] == "synthetic"


def claims_list(config: Mapping) -> list[dict]:
    """The claims the config writes down (``claims.list``); none without a ``claims`` block."""
    return [dict(c) for c in config.get("claims", {}).get("list", [])]


def parse_arm(arm: str) -> tuple[str, str]:
    """``"<base run>:<mode>"`` -> (base run, mode); ConfigError naming a malformed arm."""
    run, sep, mode = str(arm).partition(":")
    if not sep or not run or mode not in MODES:
        raise ConfigError(f"claims: arm {arm!r} is not '<run>:<mode>' with mode in {list(MODES)}")
    return run, mode


def claim_arms(claim: Mapping) -> list[str]:
    """The arms a claim compares: its ``order`` (ordering) or ``a`` and ``b``."""
    return list(claim["order"]) if claim.get("kind") == "ordering" else [claim["a"], claim["b"]]


def claim_fact_runs(claim: Mapping) -> list[str]:
    """The runs a claim's gates and facts read numbers of (``<run>.<key>``), not the
    backbone's or Figure 4's."""
    keys = [g["fact"] for g in claim.get("gates", [])] + list(claim.get("facts", {}).values())
    runs = [str(k).partition(".")[0] for k in keys]
    return [r for r in dict.fromkeys(runs) if r not in FACT_SOURCES]


def arm_replicates(config: Mapping, arm: str) -> dict[str, int]:
    """``{registry run: seed}`` of an arm's active replicates evaluated in the arm's mode
    (empty: the arm is not run in this study)."""
    run, mode = parse_arm(arm)
    reps = [
        r for r in replicates(config, run) if active(config, r) and mode in run_modes(config, r)
    ]
    return {r: run_seed(config, r) for r in reps}


def active_replicates(config: Mapping, run: str) -> list[str]:
    """The active registry runs that replicate base run ``run``."""
    return [r for r in replicates(config, run) if active(config, r)]


def claim_runs(config: Mapping) -> list[str]:
    """Base runs the claims compare or read facts of, in order of first mention."""
    runs = []
    for c in claims_list(config):
        runs += [parse_arm(a)[0] for a in claim_arms(c)] + claim_fact_runs(c)
    if claims_list(config):  # the alpha rule reads its runs' facts too
        runs += [
            r for r in config["claims"].get("alpha_rule", {}).get("runs", []) if known(config, r)
        ]
    return list(dict.fromkeys(runs))


def rationale_probe_runs(config: Mapping) -> list[str]:
    """Registry runs whose reasoning-mode evaluation the rationale probe scores: every active
    replicate of a reported or claimed run evaluated in reasoning mode (synthetic studies)."""
    if not probes_rationales(config):
        return []
    base = list(dict.fromkeys([*reported_runs(config), *claim_runs(config)]))
    runs = [r for b in base for r in active_replicates(config, b)]
    return [r for r in dict.fromkeys(runs) if "reasoning" in run_modes(config, r)]


def writes_self_rationales(config: Mapping, run: str) -> bool:
    """Whether training ``run`` generates a rationale per pair each step (objective ``rge``,
    pair ``q_self``): its ``train_log.jsonl`` then holds them (``self_rationales``)."""
    if eval_only(config, run):
        return False
    cfg = run_config(config, run)
    return cfg.get("objective") == "rge" and cfg.get("pair") == "q_self"


def check_claims(config: Mapping) -> None:
    """Check the ``claims`` block before any job runs: each claim well formed
    (``rge.report.claims.validate_claims``), its arms "<run>:<mode>", none eval-only.

    Raises:
        ConfigError: naming the claim and what is wrong.
    """
    claims = claims_list(config)
    if not claims:
        return
    from rge.report.claims import validate_claims  # numpy: only for a config with claims

    try:
        validate_claims(claims)
    except ValueError as err:
        raise ConfigError(f"claims.list: {err}") from err
    for i, claim in enumerate(claims):
        for arm in claim_arms(claim):
            parse_arm(arm)
            if eval_only_arm(config, arm):
                raise ConfigError(
                    f"claims.list[{i}] ({claim['name']}): arm {arm!r} is an eval-only checkpoint; "
                    "eval-only rows never enter a comparison"
                )


def _rationale_probe(config, wc):
    return {
        "run": wc["run"], "mode": wc["mode"], "tasks": _eval_task_specs(config, wc["run"]),
        "prompt_protocol": config["evaluate"]["prompt_protocol"],
    }  # fmt: skip


def _claims(config, wc):
    c = config["claims"]
    claims = claims_list(config)
    arms = {a: arm_replicates(config, a) for claim in claims for a in claim_arms(claim)}
    runs = claim_runs(config)
    return {
        "study": config["study"], "design": c["design"], "n_resamples": c["n_resamples"],
        "claims": claims, "arms": arms,
        "replicates": {r: active_replicates(config, r) for r in runs},
        "eval_only": sorted({a for a in arms if eval_only_arm(config, a)}),
        "tasks": eval_tasks(config),
        **({"alpha_rule": c["alpha_rule"]} if c.get("alpha_rule") else {}),
    }  # fmt: skip


def eval_only_arm(config: Mapping, arm: str) -> bool:
    """Whether an arm's run is an eval-only checkpoint (never compared by a claim)."""
    run = parse_arm(arm)[0]
    return any(eval_only(config, r) for r in active_replicates(config, run))


SLICES = {
    "make_synthetic": _make_synthetic,
    "fetch_mmeb_train": _fetch_mmeb_train,
    "fetch_mmeb_eval": _fetch_mmeb_eval,
    "fetch_prompt_tables": _fetch_prompt_tables,
    "data_report": _data_report,
    "fetch_retrieval": _fetch_retrieval,
    "prepare_train": _prepare_train,
    "select_cold_start": _select_cold_start,
    "pretrain_backbone": _pretrain_backbone,
    "oracle_rationales": _oracle_rationales,
    "check_rationales": _check_rationales,
    "cold_start": _cold_start,
    "train_run": _train_run,
    "leakage_curves": _leakage_curves,
    "fetch_checkpoint": _fetch_checkpoint,
    "embed_eval": _embed_eval,
    "score_mmeb": _score_mmeb,
    "score_retrieval": _score_retrieval,
    "metrics": _metrics,
    "pool_seeds": _pool_seeds,
    **{t: _row_table(t) for t in ROW_TABLES},
    "table2": _table2,
    "table7": _table7,
    "table15": _table15,
    "figure4": _figure4,
    "report": _report,
    "rationale_probe": _rationale_probe,
    "claims": _claims,
}


def slice_for(config: Mapping, rule: str, wildcards: Mapping | Any = ()) -> dict:
    """The config slice rule ``rule``'s stage receives as ``--cfg`` (JSON-able).

    Args:
        config: a validated config (``validate``: defaults filled in).
        rule: a rule name (= ``rge.stages`` module name).
        wildcards: the job's wildcards (a Snakemake ``Wildcards`` or a plain mapping).
    Raises:
        KeyError: ``rule`` has no slice.
    """
    if rule not in SLICES:
        raise KeyError(f"no config slice for rule {rule!r}; known: {sorted(SLICES)}")
    wc = dict(wildcards.items()) if hasattr(wildcards, "items") else dict(wildcards)
    return SLICES[rule](config, wc)


# --- typed views of a slice, one per stage family -------------------------------------------------


def _freeze(value: Any) -> Any:
    """Lists become tuples and dicts read-only mappings, recursively (views are immutable)."""
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v) for v in value)
    return value


class _View:
    """``from_slice``: the dataclass's fields taken from a slice; other slice keys ignored."""

    @classmethod
    def from_slice(cls, cfg: Mapping) -> Any:
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        missing = [
            f.name
            for f in fields
            if f.name not in cfg
            and f.default is dataclasses.MISSING
            and f.default_factory is dataclasses.MISSING
        ]
        if missing:
            raise MissingKeyError(
                f"{cls.__name__}: slice lacks key(s) {missing}; has {sorted(cfg)}"
            )
        values = {f.name: _freeze(cfg[f.name]) for f in fields if f.name in cfg}
        for name, view in _NESTED.items():
            if values.get(name) is not None:
                values[name] = view().from_slice(values[name])
        return cls(**values)

    def as_dict(self) -> dict:
        """The view as the plain, JSON-able dict it was built from (nested views included)."""
        return {f.name: thaw(getattr(self, f.name)) for f in dataclasses.fields(self)}  # type: ignore[arg-type]


def thaw(value: Any) -> Any:
    """A view's value as plain JSON-able data: views and mappings become dicts, tuples lists."""
    if isinstance(value, _View):
        return value.as_dict()
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


# Slice keys that hold a nested view (the class is looked up when a view is built).
_NESTED = {"generation": lambda: GenerationView, "pretrain": lambda: PretrainView}


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(message)


@dataclasses.dataclass(frozen=True)
class GenerationView(_View):
    """How rationales are generated before ``<emb>`` (config ``generation:``)."""

    engine: str  # dynamic | static
    decoding: str  # greedy | checkpoint (the checkpoint's own generation_config)
    cap: str  # force_emb | last_token: what stands in for <emb> when the budget runs out
    sync_every: int  # decode steps between host syncs
    compile: bool
    length_buckets: int
    dtype: str
    attn_implementation: str
    allow_sampling: bool

    def __post_init__(self) -> None:
        _check(self.sync_every >= 1, f"generation.sync_every: {self.sync_every} < 1")
        _check(self.length_buckets >= 1, f"generation.length_buckets: {self.length_buckets} < 1")


@dataclasses.dataclass(frozen=True)
class TrainingView(_View):
    """A training job (``train_run``, ``cold_start``): loop, objective and model settings."""

    # schema-defaulted keys (always in a slice of a validated config): no default here
    seed: int
    min_pixels: int
    max_pixels: int
    batch_size: int
    lr: float
    weight_decay: float
    warmup_steps: int
    epochs: float
    grad_clip: float
    checkpoint_every: int
    schedule: str
    min_lr_ratio: float
    chunk_size: int
    deepspeed: str | None
    max_steps: int | None = None  # None or 0: ``epochs`` passes
    run: str | None = None  # None: the cold start
    objective: str = "lm"  # the cold start trains the LM loss only
    init: str | None = None  # None: the cold start (it starts from the backbone)
    subsets: tuple[str, ...] = ()
    # objective keys: None where the objective does not read them
    pair: str | None = None
    alpha_lm: float | None = None
    alpha_con: float | None = None
    temperature: float | None = None
    max_new_tokens: int | None = None
    use_negatives: bool | None = None
    generation: GenerationView | None = None

    def __post_init__(self) -> None:
        _check(
            self.min_pixels <= self.max_pixels,
            f"min_pixels {self.min_pixels} > max_pixels {self.max_pixels}",
        )
        if self.objective == "rge":
            _check(
                self.alpha_lm is not None and self.alpha_con is not None,
                "rge run without alpha_lm/alpha_con",
            )
            _check(self.alpha_lm + self.alpha_con > 0, f"run {self.run}: alpha_lm + alpha_con is 0")

    @property
    def loss_weights(self) -> tuple[float, float]:
        """(α_lm, α_con) normalised to sum to 1 (paper §3.3 eq. 10); (0, 1) for baseline, (1, 0) for lm."""
        if self.objective == "baseline":
            return (0.0, 1.0)
        if self.objective == "lm":
            return (1.0, 0.0)
        total = self.alpha_lm + self.alpha_con
        return (self.alpha_lm / total, self.alpha_con / total)


@dataclasses.dataclass(frozen=True)
class EvaluationView(_View):
    """An evaluation job (``embed_eval``, ``score_retrieval``): one run, its modes, the encoder.

    ``mode`` is the embedding mode of both sides for MMEB; Flickr/COCO slices give
    ``query_mode``/``target_mode`` instead.
    """

    run: str
    batch_size: int
    max_new_tokens: int
    min_pixels: int
    max_pixels: int
    prompt_protocol: str
    seed: int
    mode: str | None = None
    query_mode: str | None = None
    target_mode: str | None = None
    bench: str | None = None
    tasks: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    cache_dir: str | None = None  # None: embeddings cached in memory only
    generation: GenerationView | None = None

    def __post_init__(self) -> None:
        for name in ("mode", "query_mode", "target_mode"):
            value = getattr(self, name)
            _check(value is None or value in MODES, f"{name}: {value!r} is not one of {MODES}")
        _check(self.batch_size >= 1, f"batch_size {self.batch_size} < 1")

    @property
    def reasoning(self) -> bool:
        """Whether any side writes a rationale before ``<emb>``."""
        return "reasoning" in (self.mode, self.query_mode, self.target_mode)

    def tasks_of(self, meta_task: str) -> tuple[str, ...]:
        """The run's tasks of one meta-task (classification, vqa, retrieval, grounding)."""
        return tuple(t for t, spec in self.tasks.items() if spec["meta_task"] == meta_task)


@dataclasses.dataclass(frozen=True)
class BackboneView(_View):
    """The backbone job (``pretrain_backbone``): which model, its resolution, the tiny recipe."""

    seed: int
    source: str  # tiny | hub
    name: str
    revision: str
    dtype: str
    min_pixels: int
    max_pixels: int
    tiny: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    pretrain: PretrainView | None = None  # None: a hub backbone (nothing is pretrained)
    generation: GenerationView | None = None
    # not config keys (no rule sets them): the hub checkpoint's attention kernel when loaded,
    # and torch's intra-op threads (None: torch's default; the job's OMP_NUM_THREADS rules)
    attn_implementation: str = "sdpa"
    threads: int | None = None

    def __post_init__(self) -> None:
        _check(
            self.min_pixels <= self.max_pixels,
            f"backbone: min_pixels {self.min_pixels} > max_pixels {self.max_pixels}",
        )
        _check(self.source in ("tiny", "hub"), f"backbone.source: {self.source!r} is not tiny|hub")
        _check(
            self.source != "tiny" or self.pretrain is not None,
            "backbone.pretrain: a tiny backbone needs its pretraining settings",
        )

    @property
    def image_tokens(self) -> tuple[int, int]:
        """(fewest, most) visual tokens per image: pixels / (28·28) (a 2×2 merge of 14-px patches)."""
        return (self.min_pixels // 784, self.max_pixels // 784)


@dataclasses.dataclass(frozen=True)
class PretrainView(_View):
    """The tiny backbone's pretraining and perception probe (config ``backbone.pretrain``)."""

    warmup_steps: int  # vision warm-up (0 skips it)
    warmup_lr: float
    warmup_batch: int
    warmup_ramp: int  # its linear ramp, then cosine decay to warmup_min_lr_ratio x lr
    warmup_min_lr_ratio: float
    caption_steps: int
    caption_batch: int
    caption_lr_vision: float  # vision tower + merger
    caption_lr_text: float  # everything else
    caption_warmup: int  # linear warm-up, then cosine to caption_min_lr_ratio x lr
    caption_min_lr_ratio: float
    image_size: int  # scene side in pixels
    probe_scenes: int  # held-out scenes the probe describes
    probe_threshold: float  # per-attribute accuracy below which the study warns
    probe_batch: int
    probe_max_new_tokens: int
    probe_examples: int
    # issue 12 item 1: captioning prompts, "fixed" (the one CAPTION_PROMPT, the recipe before)
    # or "varied" (rge.backbone.caption.varied_prompt); not in a slice when fixed
    caption_prompts: str = "fixed"
    # share of captioning examples that ask a question (rge.backbone.caption.caption_example);
    # varied prompts only; not in a slice when 0
    question_share: float = 0.0
    # how the prompt probe shows the image tasks' queries: evaluate.prompt_protocol, carried
    # only with varied prompts (see _pretrain_backbone); "mmeb" = the texts as published
    prompt_protocol: str = "mmeb"

    def __post_init__(self) -> None:
        _check(
            self.caption_prompts in ("fixed", "varied"),
            f"backbone.pretrain.caption_prompts: {self.caption_prompts!r} is not fixed|varied",
        )
        _check(
            not self.question_share or self.caption_prompts == "varied",
            "backbone.pretrain.question_share needs caption_prompts: varied",
        )


@dataclasses.dataclass(frozen=True)
class RationalesView(_View):
    """An oracle-rationale job (``oracle_rationales``): one shard of one subset."""

    subset: str
    shard: int
    num_shards: int
    backend: str  # scene | hf | vllm
    seed: int
    batch_size: int
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        _check(
            0 <= self.shard < self.num_shards,
            f"shard must be in [0, {self.num_shards}), got {self.shard}",
        )

    def owns(self, row: int) -> bool:
        """Whether row ``row`` of the subset is this shard's (row i goes to shard i mod n)."""
        return row % self.num_shards == self.shard


@dataclasses.dataclass(frozen=True)
class RationaleCheckView(_View):
    """A merge-and-check job (``check_rationales``): one training subset."""

    subset: str
    fail_on_bad: bool
    # not config keys: the word limit (None: the prompt file's) and the bad rows listed
    max_words: int | None = None
    n_examples: int = 20


@dataclasses.dataclass(frozen=True)
class DiagnosticsView(_View):
    """A Figure 4 job (``leakage_curves``): q_oracle training on one triplet variant."""

    variant: str  # consistent | wrong_target | wrong_query
    seed: int
    steps: int
    min_pixels: int
    max_pixels: int
    lr: float
    alpha_lm: float
    alpha_con: float
    temperature: float
    prompt_protocol: str  # mmeb | rge_release: the texts trained on
    # the schema leaves these unset: Figure 4's own batch and whole-batch forwards
    batch_size: int = 16
    chunk_size: int = 0
    generation: GenerationView | None = None

    def __post_init__(self) -> None:
        variants = ("consistent", "wrong_target", "wrong_query")
        _check(
            self.variant in variants,
            f"leakage_curves: unknown variant {self.variant!r}; use one of {list(variants)}",
        )


@dataclasses.dataclass(frozen=True)
class ReportView(_View):
    """A table, figure or report job: the study label and what the table shows."""

    study: str
    rows: Mapping[str, tuple[str, str]] = dataclasses.field(default_factory=dict)
    columns: Mapping[str, str] = dataclasses.field(default_factory=dict)
    pairs: Mapping[str, str] = dataclasses.field(default_factory=dict)
    paper_columns: tuple[str, ...] | None = None  # None: every paper model
    baseline_run: str | None = None
    rge_run: str | None = None
    benches: Mapping[str, str] = dataclasses.field(default_factory=dict)
    eval_only_modes: Mapping[str, tuple[str, ...]] = dataclasses.field(default_factory=dict)
    # {shown label: template} of rows labelled by their run's trained settings (Table 3)
    label_templates: Mapping[str, str] = dataclasses.field(default_factory=dict)
    # Figure 4 (not config keys): steps averaged for the note, moving average of the lines
    window: int = 20
    smooth: int = 1

    def shown_runs(self) -> tuple[str, ...]:
        """The runs of the rows (each once, in row order), else Table 7's two runs and its
        eval-only ones."""
        if self.rows:
            return tuple(dict.fromkeys(run for run, _ in self.rows.values()))
        return tuple(r for r in (self.baseline_run, self.rge_run, *self.eval_only_modes) if r)


@dataclasses.dataclass(frozen=True)
class PageView(_View):
    """The HTML report job (``report``): the study, its run registry and tasks, the examples.

    ``runs`` is the registry (its order orders the curves; an entry's optional ``label`` names
    the run on the page); ``tasks`` maps an eval task to its spec or its meta-task.
    """

    study: str
    runs: Mapping[str, Mapping[str, Any]] = dataclasses.field(default_factory=dict)
    tasks: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    baseline_run: str = "baseline"
    rge_run: str = "rge"
    # not config keys: the modes shown beside each other, examples per task, thumbnail side
    baseline_mode: str = "direct"
    rge_mode: str = "reasoning"
    examples_per_task: int = 2
    thumbnail_px: int = 160


# --- the data family ------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SyntheticView(_View):
    """The synthetic benchmark job (``make_synthetic``; config ``benchmark.synthetic``)."""

    seed: int
    train_rows: int  # rows per MMEB-train subset
    eval_rows: int  # queries per MMEB-eval task
    num_candidates: int  # candidates per eval query
    retrieval_images: int  # images per retrieval set
    image_size: int  # scene side in pixels
    tasks: tuple[str, ...] | None = None  # not a config key; None: every synthetic task


@dataclasses.dataclass(frozen=True)
class FetchView(_View):
    """A fetch job: the hub repo, its pinned revision, or the local mirror that stands in."""

    repo_id: str
    revision: str
    mirror: str  # "": download from the hub

    @property
    def hub_revision(self) -> str | None:
        """The revision to ask the hub for (None: the default branch)."""
        return self.revision or None

    @property
    def mirror_dir(self) -> str | None:
        """The local mirror folder, or None for the hub."""
        return self.mirror or None


@dataclasses.dataclass(frozen=True)
class FetchTrainView(FetchView):
    """``fetch_mmeb_train``: one MMEB-train subset."""

    subset: str
    split: str  # parquet prefix: original | diverse_instruction


@dataclasses.dataclass(frozen=True)
class FetchEvalView(FetchView):
    """``fetch_mmeb_eval``: one MMEB-eval task."""

    task: str


@dataclasses.dataclass(frozen=True)
class FetchRetrievalView(FetchView):
    """``fetch_retrieval``: one Flickr30K/COCO-style set."""

    bench: str
    captions_per_image: int


@dataclasses.dataclass(frozen=True)
class PrepareView(_View):
    """``prepare_train``: one MMEB-train subset checked and written as records."""

    subset: str
    split: str
    on_bad_row: str  # raise | skip
    max_rows: int  # -1: all valid rows
    check_images: bool = True  # not a config key; False: existence only (tests)


@dataclasses.dataclass(frozen=True)
class SelectionView(_View):
    """``select_cold_start``: the size and seed of the cold-start sample."""

    size: int
    seed: int
