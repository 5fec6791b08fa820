# Input functions and target lists: which files a job reads, under the study's output root.
# What to read is decided by rge.config (runs, restrictions, table rows); this file only spells
# the paths.


def mirror_input(wildcards):
    """The synthetic benchmark when the study generates its own; nothing when it uses the hub."""
    return [out("make_synthetic")] if config["benchmark"]["source"] == "synthetic" else []


def synthetic_scenes(wildcards):
    """The synthetic benchmark whose own training images the tiny backbone is pretrained on."""
    tiny = config["backbone"]["source"] == "tiny"
    return mirror_input(wildcards) if tiny else []


def prompt_tables(wildcards):
    """The release's rewrite tables when the prompt protocol reads them (rge_release)."""
    return [out("fetch_prompt_tables")] if rge_config.uses_prompt_tables(config) else []


def rationale_scenes(wildcards):
    """The scene sidecars of the synthetic benchmark (the `scene` backend reads them)."""
    return [out("make_synthetic")] if config["rationales"]["backend"] == "scene" else []


def rationale_model(wildcards):
    """The oracle model: the backbone for `hf` (a local VLM), nothing for `scene`/`vllm` (hub id)."""
    hf = config["rationales"]["backend"] == "hf"
    return [out("pretrain_backbone/model")] if hf else []


def rationale_shards(wildcards):
    n = config["rationales"]["num_shards"]
    return [out(f"oracle_rationales/{wildcards.subset}/{i}.jsonl") for i in range(n)]


def prepared(subsets):
    return [out(f"prepare_train/{s}.jsonl") for s in subsets]


def checked(subsets):
    return [out(f"check_rationales/{s}.jsonl") for s in subsets]


def cold_start_records(wildcards):
    return prepared(TRAIN_SUBSETS)


def cold_start_rationales(wildcards):
    return checked(TRAIN_SUBSETS)


def run_settings(wildcards):
    return rge_config.run_config(config, wildcards.run)


def run_init_model(wildcards):
    """The model a run starts from: the backbone, or the cold-start checkpoint."""
    init = run_settings(wildcards)["init"]
    return out("cold_start/model" if init == "cold_start" else "pretrain_backbone/model")


def run_rationales(wildcards):
    """Oracle rationales of the run's subsets (the rge objective's LM loss and q_oracle pair)."""
    run = run_settings(wildcards)
    return checked(run["subsets"]) if run["objective"] == "rge" else []


def train_inputs(wildcards):
    return prepared(run_settings(wildcards)["subsets"])


def run_selection(wildcards):
    """The cold-start selection when the run trains on it only (run key `data: cold_start`)."""
    restricted = run_settings(wildcards)["data"] == "cold_start"
    return [out("select_cold_start/selection.json")] if restricted else []


def run_model(wildcards):
    """The model a run's evaluation reads: its training output, or an eval-only checkpoint."""
    return rge_config.run_model(config, wildcards.run)


def eval_task_dirs(wildcards):
    tasks = rge_config.run_eval_tasks(config, wildcards.run)
    return [out(f"fetch_mmeb_eval/{t}") for t in tasks]


def task_scores(wildcards):
    return [out(f"embed_eval/{wildcards.run}/{wildcards.mode}")]


# --- seeds: a seeded base run's replicates pooled -------------------------------------------


def replicate_scores(wildcards):
    """The `score_mmeb` summaries of a seeded base run's replicates, in seed order."""
    runs = rge_config.replicates(config, wildcards.run)
    return [out(f"score_mmeb/{r}/{wildcards.mode}.json") for r in runs]


def replicate_train_summaries(wildcards):
    """The replicates' training summaries (their final InfoNCE goes into the pooled file)."""
    return [out(f"train_run/{r}/summary.json") for r in rge_config.replicates(config, wildcards.run)]


def pooled_scores():
    """Every `pool_seeds` file: each seeded run some table shows x each of its modes."""
    return [
        out(f"pool_seeds/{r}/{m}.json")
        for r in rge_config.pooled_runs(config)
        for m in rge_config.run_modes(config, r)
    ]


def diagnostics_records(wildcards):
    return prepared(rge_config.diagnostics_subsets(config))


def diagnostics_rationales(wildcards):
    return checked(rge_config.diagnostics_subsets(config))


def leakage_files(name):
    def files(wildcards):
        variants = rge_config.diagnostics_variants(config)
        return [out(f"leakage_curves/{v}/{name}") for v in variants]

    return files


# --- tables -------------------------------------------------------------------------------


def mmeb_scores(pairs):
    """The score a table reads per (run, mode): a seeded run's pooled file, else its own."""
    return [
        out(f"pool_seeds/{r}/{m}.json" if rge_config.seeded(config, r) else f"score_mmeb/{r}/{m}.json")
        for r, m in pairs
    ]


def all_metrics():
    """DVC's metrics file of every active run x mode (data/<study>/metrics/<run>/<mode>.json)."""
    return [
        out(f"metrics/{r}/{m}.json")
        for r in rge_config.active_runs(config)
        for m in rge_config.run_modes(config, r)
    ]


def run_mode_scores(runs):
    """Every (run, mode) score of ``runs``, each run in all its eval modes."""
    return mmeb_scores((r, m) for r in runs for m in rge_config.run_modes(config, r))


# The paper's numbers each table prints beside ours (config/paper_numbers/<name>.csv).
PAPER_NUMBERS = {
    "table1": {"paper": "table01_leakage_small"},
    "table2": {"paper": "table02_mmeb_main", "paper_tasks": "table15_mmeb_per_dataset"},
    "table3": {"paper": "table03_loss_balance"},
    "table4": {"paper": "table04_contrastive_pair"},
    "table6": {"paper": "table06_reasoning_at_inference"},
    "table7": {"paper": "table07_flickr_coco"},
    "table15": {"paper_tasks": "table15_mmeb_per_dataset", "paper_summary": "table15_mmeb_summary"},
}


def table_inputs(table):
    """The named inputs of a paper table: its scores; the runs' training summaries and the
    backbone probe (all but Tables 2 and 15); the paper's numbers."""

    def scores(wildcards):
        if table in ("table2", "table15"):
            return run_mode_scores(rge_config.table_runs(config, table))
        if table == "table7":
            return table7_scores(wildcards)
        rows = rge_config.table_rows(config, table).values()
        return mmeb_scores(dict.fromkeys(tuple(v) for v in rows))

    def train_summaries(wildcards):
        # eval-only runs were not trained here: no training summary, no training-loss note;
        # a seeded run's training facts come with its pooled scores
        runs = rge_config.table_runs(config, table)
        return [
            out(f"train_run/{r}/summary.json")
            for r in runs
            if not rge_config.eval_only(config, r) and not rge_config.seeded(config, r)
        ]

    paper = {k: paper_numbers(v) for k, v in PAPER_NUMBERS[table].items()}
    if table in ("table2", "table15"):
        return {"summary": scores, **paper}
    return {
        "score" if table == "table7" else "summary": scores,
        "train_summary": train_summaries,
        "probe": out("pretrain_backbone/probe.json"),
        **paper,
    }


def table_outputs(table):
    """md, csv and tex of a paper table: data/<study>/<table>/<stem>.<ext>."""
    stem = rge_config.TABLES[table]
    return {ext: out(f"{table}/{stem}.{ext}") for ext in ("md", "csv", "tex")}


def paper_numbers(name):
    return repo_file(f"config/paper_numbers/{name}.csv")


def table7_scores(wildcards):
    spec = config["report"]["table7"]
    baseline_run, rge_run = rge_config.table7_runs(config)  # a seeded run's first replicate
    combos = [f"{q}-{t}" for q in ("direct", "reasoning") for t in ("direct", "reasoning")]
    base = [out(f"score_retrieval/{baseline_run}/{b}/direct-direct.json") for b in BENCHES]
    rge = [out(f"score_retrieval/{rge_run}/{b}/{c}.json") for b in BENCHES for c in combos]
    eval_only = [
        out(f"score_retrieval/{r}/{b}/{m}-{m}.json")
        for r in spec["eval_only_runs"] if rge_config.active(config, r)
        for b in BENCHES for m in rge_config.run_modes(config, r)
    ]  # fmt: skip
    return base + rge + eval_only


def eval_only_retrieval_scores():
    """Flickr/COCO R@K of every eval-only run, query and target in each of its modes."""
    return [
        out(f"score_retrieval/{r}/{b}/{m}-{m}.json")
        for r in rge_config.eval_only_runs(config)
        for b in BENCHES
        for m in rge_config.run_modes(config, r)
    ]


def all_tables():
    """Every paper table the config asks for (md, csv, tex), in the paper's order."""
    return [p for t in rge_config.reported_tables(config) for p in table_outputs(t).values()]


def all_retrieval_scores():
    """Table 7's retrieval scores (baseline; RGE with reasoning on query and/or target)."""
    return table7_scores(None) if "table7" in config["report"] else []


def all_figures():
    """Figure 4 (png, csv, md) when the config asks for the diagnostics."""
    if not rge_config.diagnostics_variants(config):
        return []
    return [out(f"figure4/figure4_leakage.{ext}") for ext in ("png", "csv", "md")]


def all_diagnostics():
    """Figure 4's inputs: the perturbed-triplet training curves."""
    return leakage_files("summary.json")(None) + leakage_files("train_log.jsonl")(None)


# --- the report ---------------------------------------------------------------------------


def report_tables(wildcards):
    """The rendered markdown of every paper table, in the paper's order."""
    return [t for t in all_tables() if t.endswith(".md")]


def report_figures(wildcards):
    return [f for f in all_figures() if f.endswith(".png")]


def report_train_files(name):
    """`name` (train_log.jsonl / summary.json) of the cold start and every reported run."""

    def files(wildcards):
        runs = rge_config.reported_trained_runs(config)
        return [out(f"cold_start/{name}")] + [out(f"train_run/{r}/{name}") for r in runs]

    return files


def report_evaluations(wildcards):
    runs = rge_config.reported_runs(config)
    return [out(f"embed_eval/{r}/{m}") for r in runs for m in rge_config.run_modes(config, r)]


def eval_task_dirs_all(wildcards):
    return [out(f"fetch_mmeb_eval/{t}") for t in EVAL_TASKS]
