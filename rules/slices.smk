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
    """A run of the registry the (possibly restricted) study can train and evaluate; a table
    row naming a run the registry lacks (e.g. the smoke config's short registry) is left out."""
    if run not in config["runs"]:
        return False
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
    """The runs a table shows: its `runs`, the runs of its `rows`, or Table 7's two runs."""
    spec = config["report"][table]
    if "rows" in spec:
        names = [run for run, _ in spec["rows"].values()]
    elif table == "table7":
        names = [spec["baseline_run"], spec["rge_run"]]
    else:
        names = spec["runs"]
    return [r for r in dict.fromkeys(names) if active(r)]


def table_rows(table):
    """{row label: (run, mode)} of a row-based table, restricted to runs the study trains."""
    return {k: v for k, v in config["report"][table]["rows"].items() if active(v[0])}


def table_summaries(table):
    def files(wildcards):
        pairs = dict.fromkeys(tuple(v) for v in table_rows(table).values())
        return [f"data/score_mmeb/{r}/{m}.json" for r, m in pairs]

    return files


def table_train_summaries(table):
    def files(wildcards):
        return [f"data/train_run/{r}/summary.json" for r in table_runs(table)]

    return files


def table7_scores(wildcards):
    spec = config["report"]["table7"]
    combos = [f"{q}-{t}" for q in ("direct", "reasoning") for t in ("direct", "reasoning")]
    return [f"data/score_retrieval/{spec['baseline_run']}/{b}/direct-direct.json" for b in BENCHES] + [
        f"data/score_retrieval/{spec['rge_run']}/{b}/{c}.json" for b in BENCHES for c in combos
    ]


def table2_inputs(wildcards):
    return [f"data/score_mmeb/{r}/{m}.json" for r in table_runs("table2") for m in run_modes(r)]


def table15_inputs(wildcards):
    return [f"data/score_mmeb/{r}/{m}.json" for r in table_runs("table15") for m in run_modes(r)]


TABLES = {
    "table1": "table1_leakage_small",
    "table2": "table2_mmeb_main",
    "table3": "table3_loss_balance",
    "table4": "table4_contrastive_pair",
    "table6": "table6_reasoning_at_inference",
    "table7": "table7_flickr_coco",
    "table15": "table15_mmeb_per_dataset",
}


def all_tables():
    """Every paper table the config asks for (md, csv, tex), in the paper's order."""
    return [
        f"data/{t}/{stem}.{ext}"
        for t, stem in TABLES.items()
        if t in config["report"] and table_runs(t)
        for ext in ("md", "csv", "tex")
    ]


def all_retrieval_scores():
    """Table 7's retrieval scores (baseline; RGE with reasoning on query and/or target)."""
    return table7_scores(None) if "table7" in config["report"] else []


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
    """Figure 4's inputs: the perturbed-triplet training curves."""
    return leakage_files("summary.json")(None) + leakage_files("train_log.jsonl")(None)


def leakage_files(name):
    def files(wildcards):
        variants = config.get("diagnostics", {}).get("variants", [])
        return [f"data/leakage_curves/{v}/{name}" for v in variants]

    return files


def diagnostics_subsets():
    return [s for s in config["diagnostics"]["subsets"] if s in TRAIN_SUBSETS]


def diagnostics_records(wildcards):
    return [f"data/prepare_train/{s}.jsonl" for s in diagnostics_subsets()]


def diagnostics_rationales(wildcards):
    return [f"data/check_rationales/{s}.jsonl" for s in diagnostics_subsets()]


def cfg_leakage_curves(wildcards):
    d = config["diagnostics"]
    settings = {k: v for k, v in d.items() if k not in ("variants", "subsets")}
    base = {k: config["train"][k] for k in ("lr", "alpha_lm", "alpha_con", "temperature")}
    return as_json({"variant": wildcards.variant, "seed": config["seed"], **pixels(), **base, **settings})


def cfg_figure4(wildcards):
    return as_json({"study": config["study"]})


# --- the report ---------------------------------------------------------------------------


def report_tables(wildcards):
    """The rendered markdown of every paper table, in the paper's order."""
    return [t for t in all_tables() if t.endswith(".md")]


def report_figures(wildcards):
    return [f for f in all_figures() if f.endswith(".png")]


def all_figures():
    """Figure 4 (png, csv, md) when the config asks for the diagnostics."""
    if not config.get("diagnostics", {}).get("variants"):
        return []
    return [f"data/figure4/figure4_leakage.{ext}" for ext in ("png", "csv", "md")]


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


def cfg_rows_table(table):
    spec = config["report"][table]
    cfg = {"study": config["study"], "rows": table_rows(table)}
    if "columns" in spec:
        cfg["columns"] = {k: v for k, v in spec["columns"].items() if k in EVAL_TASKS}
    return as_json(cfg)


def cfg_table1(wildcards):
    return cfg_rows_table("table1")


def cfg_table3(wildcards):
    return cfg_rows_table("table3")


def cfg_table4(wildcards):
    return cfg_rows_table("table4")


def cfg_table6(wildcards):
    return cfg_rows_table("table6")


def cfg_table7(wildcards):
    spec = config["report"]["table7"]
    return as_json({"study": config["study"], **spec})
