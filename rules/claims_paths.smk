# Input functions and targets of the rationale probe and the claims (issue 12 items 2, 3, 7, 8):
# which runs they read is decided by rge.config; this file only spells the paths.

try:
    rge_config.check_claims(config)  # a bad claim fails before any job runs
except rge_config.ConfigError as err:
    sys.exit(f"config error: {err}")


def rationale_probe_targets():
    """data/<study>/rationale_probe/<run>/reasoning.json of every probed run (synthetic only)."""
    return [out(f"rationale_probe/{r}/reasoning.json") for r in rge_config.rationale_probe_runs(config)]


def rationale_probe_inputs(wildcards):
    """One evaluation's outputs, the scene sidecars, the rows it evaluated (their query texts
    find the rationale of a query that evaluation deduplicated), and for a q_self run its
    training log (the rationales it wrote for training rows)."""
    log = (
        {"train_log": out(f"train_run/{wildcards.run}/train_log.jsonl")}
        if rge_config.writes_self_rationales(config, wildcards.run)
        else {}
    )
    return {
        "evaluation": out(f"embed_eval/{wildcards.run}/{wildcards.mode}"),
        "scenes": out("make_synthetic"),
        "data": eval_task_dirs(wildcards),
        "prompt_tables": prompt_tables(wildcards),
        **log,
    }


def claims_enabled():
    """Whether the config writes down claims (the paper config has none yet)."""
    return bool(rge_config.claims_list(config))


def claims_targets():
    return [out(f"claims/claims.{ext}") for ext in ("md", "csv", "json")] if claims_enabled() else []


def claims_inputs(wildcards):
    """Per arm and replicate the evaluation folder; the training summaries and rationale probes
    of the claimed runs; the backbone report; Figure 4's summaries when diagnostics run."""
    slice_ = rge_config.slice_for(config, "claims")
    evaluations = [
        out(f"embed_eval/{r}/{rge_config.parse_arm(arm)[1]}")
        for arm, reps in slice_["arms"].items() for r in reps
    ]  # fmt: skip
    runs = [r for reps in slice_["replicates"].values() for r in reps]
    probed = set(rge_config.rationale_probe_runs(config))
    return {
        "evaluation": list(dict.fromkeys(evaluations)),
        "train_summary": [
            out(f"train_run/{r}/summary.json") for r in runs if not rge_config.eval_only(config, r)
        ],
        "rationale_probe": [out(f"rationale_probe/{r}/reasoning.json") for r in runs if r in probed],
        "probe": out("pretrain_backbone/probe.json"),
        "figure4": leakage_files("summary.json")(wildcards),
    }


def report_claims(wildcards):
    """The claims (md for the section, json for each table's "claims it tests" line)."""
    return [out(f"claims/claims.{ext}") for ext in ("md", "json")] if claims_enabled() else []


def table_rationale_probes(table):
    """The rationale probes of a row table's runs (their seed replicates included)."""

    def files(wildcards):
        shown = rge_config.table_runs(config, table)
        probed = rge_config.rationale_probe_runs(config)
        reps = {r for b in shown for r in rge_config.active_replicates(config, b)}
        return [out(f"rationale_probe/{r}/reasoning.json") for r in probed if r in reps]

    return files


def table_evaluations(table):
    """The embed_eval folders of a row table's rows (their seed replicates included): their
    predictions give each task's chance level."""

    def files(wildcards):
        rows = rge_config.table_rows(config, table).values()
        folders = [
            out(f"embed_eval/{r}/{mode}")
            for run, mode in rows for r in rge_config.active_replicates(config, run)
        ]  # fmt: skip
        return list(dict.fromkeys(folders))

    return files
