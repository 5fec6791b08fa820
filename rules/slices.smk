# Input functions and config slices, one per rule. A slice holds exactly what the stage reads,
# so Snakemake's params tracking reruns only the jobs whose settings changed.


def mirror_input(wildcards):
    """The synthetic benchmark when the study generates its own; nothing when it uses the hub."""
    return ["data/make_synthetic"] if config["benchmark"]["source"] == "synthetic" else []


def synthetic_scenes(wildcards):
    """The synthetic benchmark whose own training images the tiny backbone is pretrained on."""
    if config["backbone"]["source"] == "tiny" and config["benchmark"]["source"] == "synthetic":
        return ["data/make_synthetic"]
    return []


def rationale_scenes(wildcards):
    """The scene sidecars of the synthetic benchmark (the `scene` backend reads them)."""
    return ["data/make_synthetic"] if config["rationales"]["backend"] == "scene" else []


def rationale_model(wildcards):
    """The oracle model: the backbone for `hf` (a local VLM), nothing for `scene`/`vllm` (hub id)."""
    return ["data/pretrain_backbone/model"] if config["rationales"]["backend"] == "hf" else []


def rationale_shards(wildcards):
    n = config["rationales"]["num_shards"]
    return [f"data/oracle_rationales/{wildcards.subset}/{i}.jsonl" for i in range(n)]


def mirror_dir(repo):
    """DIR/<repo> of the local mirror (laid out like the hub repo), or "" for the hub."""
    root = config.get("mmeb_mirror", "")
    return f"{root}/{repo}" if root else ""


def run_config(run):
    """Training defaults overridden by the registry entry of ``run``."""
    entry = config["runs"][run]
    skip = ("eval_modes", "eval_tasks")
    merged = {**config["train"], **{k: v for k, v in entry.items() if k not in skip}}
    # a study restricted by `train_subsets=` trains every run on what is left of its subsets
    merged["subsets"] = [s for s in entry.get("subsets", TRAIN_SUBSETS) if s in TRAIN_SUBSETS]
    return merged


def active(run):
    """A run the (possibly restricted) study can train and evaluate."""
    return bool(run_config(run)["subsets"]) and bool(run_eval_tasks(run))


def run_modes(run):
    return config["runs"][run].get("eval_modes", ["direct"])


def run_init_model(wildcards):
    """The model a run starts from: the backbone, or the cold-start checkpoint."""
    init = run_config(wildcards.run).get("init", "backbone")
    return "data/cold_start/model" if init == "cold_start" else "data/pretrain_backbone/model"


def run_rationales(wildcards):
    """Oracle rationales of the run's subsets (the rge objective's LM loss and q_oracle pair)."""
    if run_config(wildcards.run)["objective"] != "rge":
        return []
    return [f"data/check_rationales/{s}.jsonl" for s in run_config(wildcards.run)["subsets"]]


def cold_start_records(wildcards):
    return [f"data/prepare_train/{s}.jsonl" for s in TRAIN_SUBSETS]


def cold_start_rationales(wildcards):
    return [f"data/check_rationales/{s}.jsonl" for s in TRAIN_SUBSETS]


def train_inputs(wildcards):
    return [f"data/prepare_train/{s}.jsonl" for s in run_config(wildcards.run)["subsets"]]


def run_eval_tasks(run):
    """The eval tasks of a run: its registry `eval_tasks` (e.g. Table 1's four), else all."""
    wanted = config["runs"][run].get("eval_tasks")
    return [t for t in EVAL_TASKS if wanted is None or t in wanted]


def eval_task_dirs(wildcards):
    return [f"data/fetch_mmeb_eval/{t}" for t in run_eval_tasks(wildcards.run)]


def task_scores(wildcards):
    return [f"data/embed_eval/{wildcards.run}/{wildcards.mode}"]


def table_runs(table):
    return [r for r in config["report"][table]["runs"] if active(r)]


def table2_inputs(wildcards):
    return [f"data/score_mmeb/{r}/{m}.json" for r in table_runs("table2") for m in run_modes(r)]


def table15_inputs(wildcards):
    return [f"data/score_mmeb/{r}/{m}.json" for r in table_runs("table15") for m in run_modes(r)]


def all_tables():
    tables = []
    for rule_name, stem in (("table2", "table2_mmeb_main"), ("table15", "table15_mmeb_per_dataset")):
        tables += [f"data/{rule_name}/{stem}.{ext}" for ext in ("md", "csv", "tex")]
    return tables


def all_retrieval_scores():
    """The main runs (Table 2's) on every retrieval set, each mode on the query side."""
    return [
        f"data/score_retrieval/{r}/{b}/{m}-direct.json"
        for r in table_runs("table2")
        for m in run_modes(r)
        for b in BENCHES
    ]


def pixels():
    return {k: config["backbone"][k] for k in ("min_pixels", "max_pixels")}


# --- config slices (JSON strings) ---------------------------------------------------------


def cfg_make_synthetic(wildcards):
    return as_json({"seed": config["seed"], **config["benchmark"]["synthetic"]})


def cfg_fetch_mmeb_train(wildcards):
    bench = config["benchmark"]
    return as_json(
        {
            "repo_id": bench["train_repo"],
            "revision": bench["train_revision"],
            "split": bench["train_split"],
            "mirror": mirror_dir("MMEB-train"),
            "subset": wildcards.subset,
        }
    )


def cfg_fetch_mmeb_eval(wildcards):
    bench = config["benchmark"]
    return as_json(
        {
            "repo_id": bench["eval_repo"],
            "revision": bench["eval_revision"],
            "mirror": mirror_dir("MMEB-eval"),
            "task": wildcards.task,
        }
    )


def cfg_fetch_retrieval(wildcards):
    entry = config["tasks"]["retrieval"][wildcards.bench]
    return as_json(
        {
            "repo_id": entry["repo"],
            "revision": entry["revision"],
            "captions_per_image": entry.get("max_captions", 5),
            "mirror": mirror_dir(f"retrieval/{wildcards.bench}"),
            "bench": wildcards.bench,
        }
    )


def cfg_prepare_train(wildcards):
    bench = config["benchmark"]
    return as_json(
        {
            "subset": wildcards.subset,
            "split": bench["train_split"],
            "on_bad_row": bench["on_bad_row"],
            "max_rows": bench.get("max_rows_per_subset", -1),
        }
    )


def cfg_select_cold_start(wildcards):
    return as_json({"seed": config["seed"], "size": config["cold_start"]["size"]})


def cfg_pretrain_backbone(wildcards):
    return as_json({"seed": config["seed"], **config["backbone"]})


def cfg_cold_start(wildcards):
    settings = {k: v for k, v in config["cold_start"].items() if k != "size"}
    return as_json({"seed": config["seed"], **pixels(), **config["train"], **settings})


def cfg_train_run(wildcards):
    return as_json(
        {
            "run": wildcards.run,
            "seed": config["seed"],
            **pixels(),
            **run_config(wildcards.run),
        }
    )


def cfg_embed_eval(wildcards):
    return as_json(
        {
            "run": wildcards.run,
            "mode": wildcards.mode,
            "tasks": {t: config["tasks"]["eval"][t] for t in run_eval_tasks(wildcards.run)},
            "batch_size": config["evaluate"]["batch_size"],
            "max_new_tokens": config["evaluate"]["max_new_tokens"],
            "cache_dir": config["evaluate"].get("cache_dir") or None,
            **pixels(),
        }
    )


def cfg_score_mmeb(wildcards):
    return as_json(
        {
            "run": wildcards.run,
            "mode": wildcards.mode,
            "tasks": {t: config["tasks"]["eval"][t] for t in run_eval_tasks(wildcards.run)},
        }
    )


def cfg_score_retrieval(wildcards):
    return as_json(
        {
            "run": wildcards.run,
            "bench": wildcards.bench,
            "query_mode": wildcards.qmode,
            "target_mode": wildcards.tmode,
            "batch_size": config["evaluate"]["batch_size"],
            "max_new_tokens": config["evaluate"]["max_new_tokens"],
            **pixels(),
        }
    )


def cfg_table2(wildcards):
    return as_json({"study": config["study"], "pairs": config["report"]["table2"].get("pairs", {})})


def cfg_table15(wildcards):
    columns = config["report"]["table15"].get("paper_columns")
    return as_json({"study": config["study"], **({"paper_columns": columns} if columns else {})})


def cfg_oracle_rationales(wildcards):
    r = config["rationales"]
    return as_json(
        {
            "subset": wildcards.subset,
            "shard": int(wildcards.shard),
            "num_shards": r["num_shards"],
            "backend": r["backend"],
            "seed": config["seed"],
            "batch_size": r["batch_size"],
            "settings": r.get("settings", {}),
        }
    )


def cfg_check_rationales(wildcards):
    r = config["rationales"]
    return as_json({"subset": wildcards.subset, "fail_on_bad": r["fail_on_bad"]})


def all_diagnostics():
    """Figure 4's inputs: the perturbed-triplet training curves (issue 4 fills this in)."""
    return []


# --- the report ---------------------------------------------------------------------------


def report_tables(wildcards):
    """The rendered markdown of every paper table, in the paper's order."""
    return [t for t in all_tables() if t.endswith(".md")]


def report_figures(wildcards):
    return [f for f in all_figures() if f.endswith(".png")]


def all_figures():
    """Figure 4 (issue 4 fills this in with the diagnostics phase)."""
    return []


def report_train_files(name):
    """`name` (train_log.jsonl / summary.json) of the cold start and every reported run."""

    def files(wildcards):
        runs = sorted({r for table in config["report"] for r in table_runs(table)})
        return [f"data/cold_start/{name}"] + [f"data/train_run/{r}/{name}" for r in runs]

    return files


def report_evaluations(wildcards):
    runs = sorted({r for table in config["report"] for r in table_runs(table)})
    return [f"data/embed_eval/{r}/{m}" for r in runs for m in run_modes(r)]


def eval_task_dirs_all(wildcards):
    return [f"data/fetch_mmeb_eval/{t}" for t in EVAL_TASKS]


def cfg_report(wildcards):
    return as_json(
        {
            "study": config["study"],
            "runs": config["runs"],
            "tasks": {t: config["tasks"]["eval"][t] for t in EVAL_TASKS},
            "baseline_run": "baseline",
            "rge_run": "rge",
        }
    )
