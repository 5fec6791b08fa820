"""rge.config: validation, run resolution, table rows, per-rule slices and the typed views."""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
from pathlib import Path

import pytest
import yaml

from rge import config as C

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def schema() -> dict:
    return C.load_schema(ROOT / C.SCHEMA)


@pytest.fixture(scope="module")
def embedded(schema) -> dict:
    return C.validate(C.load_yaml(ROOT / "config/config.yaml"), schema)


@pytest.fixture(scope="module")
def paper(schema) -> dict:
    return C.validate(C.load_yaml(ROOT / "config/paper.yaml"), schema)


def validated(schema, text: str, base: str = "config/smoke.yaml") -> dict:
    """The smoke config with ``text`` (YAML) merged over it one level deep, validated."""
    config = C.load_yaml(ROOT / base)
    for key, value in yaml.safe_load(text).items():
        if isinstance(value, dict) and isinstance(config.get(key), dict):
            config[key] = {**config[key], **value}
        else:
            config[key] = value
    return C.validate(config, schema)


# --- validation ---------------------------------------------------------------------------------


def test_schema_defaults_are_filled_everywhere(embedded):
    assert embedded["evaluate"]["prompt_protocol"] == "rge_release"
    assert embedded["benchmark"]["max_rows_per_subset"] == -1
    assert embedded["runs"]["baseline@0"]["pair"] == "q"  # inside registry entries too
    assert embedded["tasks"]["retrieval"]["SynFlickr"]["max_captions"] == 5
    assert embedded["rationales"]["settings"] == {}
    assert embedded["report"]["table2"]["pairs"] == {}


def test_generation_block_defaults_and_the_paper_values(schema):
    smoke = C.load(ROOT / "config/smoke.yaml", ROOT / C.SCHEMA)["generation"]
    assert smoke == {
        "engine": "static", "decoding": "greedy", "cap": "force_emb", "sync_every": 8,
        "compile": False, "length_buckets": 4, "dtype": "float32",
        "attn_implementation": "sdpa", "allow_sampling": False,
    }  # fmt: skip
    paper = C.load(ROOT / "config/paper.yaml", ROOT / C.SCHEMA)["generation"]
    assert (paper["decoding"], paper["cap"], paper["dtype"], paper["attn_implementation"]) == (
        "checkpoint", "last_token", "bfloat16", "auto",  # flash-attention-2 when installed
    )  # fmt: skip
    assert paper["engine"] == "dynamic"  # the static step takes sdpa/eager, not flash-attention-2
    config = C.load_yaml(ROOT / "config/smoke.yaml")
    del config["generation"]
    assert C.validate(config, schema)["generation"] == smoke  # an absent block: all defaults


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "rationales: {settings: {tensor_paralel_size: 4}}",
            "rationales.settings: unknown key 'tensor_paralel_size' (did you mean "
            "'tensor_parallel_size'?); known: ",
        ),
        ("backbone: {tiny: {haeds: 4}}", "backbone.tiny: unknown key 'haeds' (did you mean 'heads'?)"),
        ("generation: {engine: dinamic}", "generation.engine: 'dinamic' is not one of dynamic, static (did you mean 'dynamic'?)"),
        ("train: {lr: fast}", "train.lr: 'fast' is a string, not a number (write e.g. 1.0e-4)"),
        ("runs: {baseline: {objective: baseline, alpha_cn: 1}}", "runs.baseline: unknown key 'alpha_cn' (did you mean 'alpha_con'?)"),
        ("report: {table3: {rows: [{label: x, run: rge}]}}", "report.table3.rows[0]: 'mode' is a required property"),
    ],
)  # fmt: skip
def test_a_bad_config_is_one_line_naming_the_key(schema, text, message):
    with pytest.raises(C.ConfigError) as err:
        validated(schema, text)
    assert str(err.value).startswith(message), str(err.value)
    assert "\n" not in str(err.value)


def test_each_rationale_backend_gets_the_settings_it_cannot_start_without(schema):
    with pytest.raises(C.ConfigError, match=r"^rationales.settings: 'min_pixels' is a required"):
        validated(schema, "rationales: {backend: hf}")
    with pytest.raises(C.ConfigError, match=r"^rationales.settings: 'model' is a required"):
        validated(schema, "rationales: {backend: vllm, settings: {tensor_parallel_size: 4}}")
    config = validated(
        schema, "rationales: {backend: hf, settings: {min_pixels: 3136, max_pixels: 3136}}"
    )
    assert config["rationales"]["settings"]["max_pixels"] == 3136


def test_yaml_1_1_float_strings_become_numbers(schema):
    config = validated(schema, "train: {lr: '1e-4', max_steps: '1e2'}\ncold_start: {lr: 2e-05}")
    assert config["train"]["lr"] == 1e-4 and isinstance(config["train"]["lr"], float)
    assert config["train"]["max_steps"] == 100 and isinstance(config["train"]["max_steps"], int)
    assert config["cold_start"]["lr"] == 2e-5  # what `dvc exp run -S` writes back


def test_a_number_string_stays_a_string_where_the_schema_wants_one(schema):
    config = validated(schema, "backbone: {revision: '1e5'}")
    assert config["backbone"]["revision"] == "1e5"


# --- run resolution -----------------------------------------------------------------------------


def test_run_config_is_the_entry_over_the_train_defaults(embedded):
    run = C.run_config(embedded, "alpha_10_1")
    assert (run["alpha_lm"], run["alpha_con"], run["lr"], run["pair"]) == (10, 1, 0.001, "q_self")
    assert "eval_modes" not in run and "eval_tasks" not in run
    assert run["subsets"] == embedded["tasks"]["train"]
    assert C.run_config(embedded, "leak_q")["subsets"] == [
        "SynCOCO_t2i", "SynCOCO_i2t", "SynNews_t2i", "SynNews_i2t",
    ]  # fmt: skip


def test_restrictions_narrow_subsets_tasks_and_active_runs(embedded):
    config = {**embedded, "train_subsets": "SynObjects,SynCOCO_t2i", "eval_tasks": "SynObjects"}
    assert C.train_subsets(config) == ["SynObjects", "SynCOCO_t2i"]
    assert C.run_config(config, "leak_q")["subsets"] == ["SynCOCO_t2i"]
    assert C.run_eval_tasks(config, "baseline") == ["SynObjects"]
    # leak_* evaluate on the four retrieval tasks only: none is left, so they are not active
    assert C.run_eval_tasks(config, "leak_q") == []
    assert not C.active(config, "leak_q") and C.active(config, "baseline")
    # 4 seeded runs x 3 replicates, the two α runs, the two eval-only runs
    assert "leak_q" not in C.active_runs(config) and len(C.active_runs(config)) == 16
    assert not C.active(config, "no_such_run")


def test_an_unknown_name_in_a_knob_is_named(embedded):
    with pytest.raises(C.ConfigError, match=r"eval_tasks: \['Nope'\] not in the registry"):
        C.eval_tasks({**embedded, "eval_tasks": "SynObjects, Nope"})


def test_modes_and_output_root(embedded):
    assert C.run_modes(embedded, "rge") == ["direct", "reasoning"]
    assert C.run_modes(embedded, "baseline") == ["direct"]
    assert C.output_root(embedded) == "data/embedded"


# --- tables -------------------------------------------------------------------------------------


def test_table3_labels_read_the_runs_alphas(embedded):
    rows = C.table_rows(embedded, "table3")
    # the embedded table keeps 10:1, "0", 1:1, 1:10 (config/paper.yaml keeps all eight)
    backbone = "0 (no LM loss; backbone init)"
    assert list(rows) == ["10:1", "0 (no LM loss)", backbone, "1:1", "1:10"]
    assert rows["1:10"] == ("rge", "reasoning") and rows[backbone] == ("baseline", "direct")
    assert rows["0 (no LM loss)"] == ("baseline_cs", "direct")  # matched initialisation
    changed = copy.deepcopy(embedded)
    changed["runs"]["alpha_1_1"]["alpha_con"] = 40
    assert "1:40" in C.table_rows(changed, "table3") and "1:1" not in C.table_rows(
        changed, "table3"
    )


def test_rows_of_runs_the_registry_lacks_are_left_out(schema):
    smoke = C.load(ROOT / "config/smoke.yaml", ROOT / C.SCHEMA)
    assert list(C.table_rows(smoke, "table3")) == [
        "0 (no LM loss)", "0 (no LM loss; backbone init)", "1:10", "1:20",
    ]  # fmt: skip
    assert C.table_runs(smoke, "table1") == ["leak_q", "leak_self"]
    assert C.table_runs(smoke, "table7") == ["baseline", "rge@0"]  # Table 7: first replicate
    assert C.reported_tables(smoke) == list(C.TABLES)


def test_a_label_naming_a_missing_setting_is_named(embedded):
    config = copy.deepcopy(embedded)
    config["report"]["table6"]["rows"][0]["label"] = "{alpha_typo}"
    with pytest.raises(C.ConfigError, match=r"report.table6.rows\[0\].label"):
        C.table_rows(config, "table6")


# --- slices -------------------------------------------------------------------------------------


def jobs(config: dict) -> list[tuple[str, dict]]:
    """Every (rule, wildcards) of the study, as the rules expand them."""
    runs = C.active_runs(config)
    one = [{}]
    wildcards = {
        "make_synthetic": one, "select_cold_start": one, "pretrain_backbone": one,
        "fetch_prompt_tables": one, "data_report": one,
        "cold_start": one, "figure4": one, "report": one,
        "fetch_mmeb_train": [{"subset": s} for s in C.train_subsets(config)],
        "prepare_train": [{"subset": s} for s in C.train_subsets(config)],
        "check_rationales": [{"subset": s} for s in C.train_subsets(config)],
        "oracle_rationales": [
            {"subset": s, "shard": str(i)}
            for s in C.train_subsets(config) for i in range(config["rationales"]["num_shards"])
        ],
        "fetch_mmeb_eval": [{"task": t} for t in C.eval_tasks(config)],
        "fetch_retrieval": [{"bench": b} for b in C.benches(config)],
        "train_run": [{"run": r} for r in C.trained_runs(config)],
        "fetch_checkpoint": [{"run": r} for r in C.hub_checkpoint_runs(config)],
        "leakage_curves": [{"variant": v} for v in C.diagnostics_variants(config)],
        "embed_eval": [{"run": r, "mode": m} for r in runs for m in C.run_modes(config, r)],
        "score_mmeb": [{"run": r, "mode": m} for r in runs for m in C.run_modes(config, r)],
        # Table 7: the baseline direct-direct; RGE with reasoning on either side
        "score_retrieval": [
            {"run": r, "bench": b, "qmode": q, "tmode": t}
            for b in C.benches(config)
            for r, q, t in [("baseline", "direct", "direct")]
            + [("rge", q, t) for q, t in itertools.product(C.MODES, C.MODES)]
        ],
        **{t: one for t in C.reported_tables(config)},
    }  # fmt: skip
    return [(rule, wc) for rule, cases in wildcards.items() for wc in cases]


def changed_jobs(config: dict, path: str, value) -> set[str]:
    """The jobs whose slice changes when the config key ``path`` (dotted) is set to ``value``."""
    edited = copy.deepcopy(config)
    node = edited
    *parents, last = path.split(".")
    for part in parents:
        node = node[part]
    node[last] = value
    changed = set()
    for rule, wc in jobs(config):
        if C.slice_for(config, rule, wc) != C.slice_for(edited, rule, wc):
            changed.add(rule + "".join(f"[{v}]" for v in wc.values()))
    return changed


def test_the_cold_start_and_the_baseline_do_not_read_alpha_con(embedded):
    rge_runs = [*(f"{r}@{s}" for r in ("rge", "pair_q_oracle") for s in (0, 1, 2)),
                "leak_q", "leak_oracle", "leak_self"]  # no own alpha_con  # fmt: skip
    assert changed_jobs(embedded, "train.alpha_con", 20) == {
        *(f"train_run[{r}]" for r in rge_runs),
        *(f"leakage_curves[{v}]" for v in ("consistent", "wrong_target", "wrong_query")),
        "table3",  # its "1:10" row now reads "1:20"
    }


def test_the_learning_rate_reaches_every_training_job_only(embedded):
    changed = changed_jobs(embedded, "train.lr", 0.002)
    assert {j.split("[")[0] for j in changed} == {"cold_start", "train_run", "leakage_curves"}
    assert len(changed) == 1 + 17 + 3  # cold start, 4 x 3 replicates + 5 runs, Figure 4


def test_the_eval_batch_size_reaches_the_encoding_jobs_only(embedded):
    changed = changed_jobs(embedded, "evaluate.batch_size", 8)
    assert {j.split("[")[0] for j in changed} == {"embed_eval", "score_retrieval"}
    # 20 trained (run, mode) (rge's 3 replicates in two modes), 2 eval-only; 10 retrieval
    assert len(changed) == 22 + 10


def test_a_backbone_recipe_key_reaches_the_backbone_only(embedded):
    assert changed_jobs(embedded, "backbone.pretrain.warmup_steps", 10) == {"pretrain_backbone"}
    assert changed_jobs(embedded, "backbone.tiny", {"rope_theta": 100.0}) == {"pretrain_backbone"}


def test_one_run_setting_reaches_that_run_its_table_and_the_report(embedded):
    assert changed_jobs(embedded, "runs.alpha_1_1.alpha_con", 50) == {
        "train_run[alpha_1_1]", "table3", "report",
    }  # fmt: skip


def test_generation_settings_reach_the_generating_jobs(embedded):
    changed = changed_jobs(embedded, "generation.dtype", "bfloat16")
    assert {j.split("[")[0] for j in changed} == {
        "pretrain_backbone", "cold_start", "train_run", "leakage_curves", "embed_eval",
        "score_retrieval",
    }  # fmt: skip


def test_the_prompt_protocol_reaches_the_training_and_encoding_jobs(embedded):
    # the fetched and prepared data stay the MMEB text; the rewrite happens where it is read
    # ... and the backbone's prompt probe, which shows it the image tasks' queries
    changed = changed_jobs(embedded, "evaluate.prompt_protocol", "mmeb")
    assert {j.split("[")[0] for j in changed} == {
        "cold_start", "train_run", "leakage_curves", "embed_eval", "score_retrieval",
        "data_report", "pretrain_backbone",
    }  # fmt: skip


def test_the_prompt_tables_come_from_the_pinned_release_or_the_synthetic_mirror(embedded, paper):
    assert C.slice_for(embedded, "fetch_prompt_tables") == {
        "repo_id": "MCG-NJU/RGE", "revision": "60744447ffc0d51471a85757c4ea4be86650d8c5",
        "mirror": "data/embedded/make_synthetic/RGE",
    }  # fmt: skip
    assert C.slice_for(paper, "fetch_prompt_tables")["mirror"] == ""
    assert C.uses_prompt_tables(paper) and C.uses_prompt_tables(embedded)


def test_the_pinned_release_matches_the_protocol_module():
    from rge.data import protocol

    assert (C.PROMPT_TABLES_REPO, C.PROMPT_TABLES_COMMIT) == (
        protocol.RELEASE_REPO, protocol.RELEASE_COMMIT,
    )  # fmt: skip


def test_slices_hold_what_the_training_stages_read(embedded):
    cold = C.slice_for(embedded, "cold_start", {})
    assert cold["max_steps"] == 800 and cold["lr"] == 0.001 and "size" not in cold
    assert not {"alpha_con", "alpha_lm", "temperature", "use_negatives", "pair"} & set(cold)
    baseline = C.slice_for(embedded, "train_run", {"run": "baseline"})
    assert baseline["temperature"] == 0.03 and baseline["use_negatives"] is True
    assert not {"alpha_con", "alpha_lm", "pair", "max_new_tokens"} & set(baseline)
    rge = C.slice_for(embedded, "train_run", {"run": "rge"})
    assert (rge["pair"], rge["alpha_lm"], rge["alpha_con"], rge["init"]) == (
        "q_self", 1, 10, "cold_start",
    )  # fmt: skip
    assert rge["min_pixels"] == 3136 and rge["run"] == "rge" and rge["seed"] == 0


def test_row_table_slices_keep_the_shape_the_stage_reads(embedded):
    cfg = C.slice_for(embedded, "table1", {})
    assert cfg["rows"]["q->t"] == ("leak_q", "direct") and cfg["study"] == "embedded"
    assert cfg["columns"]["SynNews_t2i"] == "VisualNews_t2i"


def test_an_unknown_rule_has_no_slice(embedded):
    with pytest.raises(KeyError, match="no config slice for rule 'nope'"):
        C.slice_for(embedded, "nope", {})


# --- views --------------------------------------------------------------------------------------


def test_training_view_of_a_run_and_of_the_cold_start(embedded):
    rge = C.TrainingView.from_slice(C.slice_for(embedded, "train_run", {"run": "rge"}))
    assert rge.loss_weights == pytest.approx((1 / 11, 10 / 11))
    assert rge.subsets == tuple(embedded["tasks"]["train"]) and rge.generation.engine == "static"
    cold = C.TrainingView.from_slice(C.slice_for(embedded, "cold_start", {}))
    assert (cold.objective, cold.run, cold.alpha_con, cold.loss_weights) == (
        "lm",
        None,
        None,
        (1.0, 0.0),
    )
    base = C.TrainingView.from_slice(C.slice_for(embedded, "train_run", {"run": "baseline"}))
    assert base.loss_weights == (0.0, 1.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rge.lr = 1.0  # type: ignore[misc]


def test_evaluation_view(embedded):
    wc = {"run": "leak_q", "mode": "direct"}
    view = C.EvaluationView.from_slice(C.slice_for(embedded, "embed_eval", wc))
    assert view.tasks_of("retrieval") == (
        "SynCOCO_t2i",
        "SynCOCO_i2t",
        "SynNews_t2i",
        "SynNews_i2t",
    )
    assert not view.reasoning and view.cache_dir == "data/embedded/embed_cache"
    wc = {"run": "rge", "bench": "SynCOCO", "qmode": "reasoning", "tmode": "direct"}
    retrieval = C.EvaluationView.from_slice(C.slice_for(embedded, "score_retrieval", wc))
    assert retrieval.reasoning and retrieval.prompt_protocol == "rge_release"


def test_backbone_rationales_diagnostics_and_report_views(embedded):
    backbone = C.BackboneView.from_slice(C.slice_for(embedded, "pretrain_backbone", {}))
    assert backbone.image_tokens == (4, 16)  # 56x56 and 112x112 pixels in 28x28 cells
    assert backbone.tiny["rope_theta"] == 10.0
    shard = C.RationalesView.from_slice(
        {**C.slice_for(embedded, "oracle_rationales", {"subset": "SynObjects", "shard": "0"}),
         "shard": 2, "num_shards": 3}
    )  # fmt: skip
    assert [shard.owns(i) for i in range(6)] == [False, False, True, False, False, True]
    fig = C.DiagnosticsView.from_slice(
        C.slice_for(embedded, "leakage_curves", {"variant": "wrong_query"})
    )
    assert (fig.steps, fig.batch_size, fig.alpha_con) == (200, 16, 10)
    table = C.ReportView.from_slice(C.slice_for(embedded, "table6", {}))
    assert table.shown_runs() == ("baseline_cs", "baseline", "rge")  # base names: pooled rows
    table7 = C.ReportView.from_slice(C.slice_for(embedded, "table7", {}))
    assert table7.shown_runs() == ("baseline_cs@0", "rge@0")  # Table 7: the first replicates
    assert table7.benches["SynFlickr"] == "flickr"


def test_views_reject_bad_slices(embedded):
    with pytest.raises(C.ConfigError, match="slice lacks key"):
        C.DiagnosticsView.from_slice({"variant": "consistent"})
    good = C.slice_for(embedded, "oracle_rationales", {"subset": "SynObjects", "shard": "0"})
    with pytest.raises(C.ConfigError, match=r"shard must be in \[0, 1\), got 1"):
        C.RationalesView.from_slice({**good, "shard": 1})
    with pytest.raises(C.ConfigError, match="generation.sync_every: 0 < 1"):
        C.GenerationView.from_slice({**embedded["generation"], "sync_every": 0})


def test_data_views_read_the_schemas_defaults(embedded):
    syn = C.SyntheticView.from_slice(C.slice_for(embedded, "make_synthetic", {}))
    assert (syn.image_size, syn.tasks) == (112, None)  # schema default; every task
    train = C.FetchTrainView.from_slice(
        C.slice_for(embedded, "fetch_mmeb_train", {"subset": "SynObjects"})
    )
    assert (train.split, train.hub_revision) == ("original", "main")
    assert train.mirror_dir == "data/embedded/make_synthetic/MMEB-train"
    bench = C.FetchRetrievalView.from_slice(
        C.slice_for(embedded, "fetch_retrieval", {"bench": "SynCOCO"})
    )
    assert (bench.captions_per_image, bench.repo_id) == (5, "synthetic")
    prep = C.PrepareView.from_slice(C.slice_for(embedded, "prepare_train", {"subset": "SynGround"}))
    assert (prep.on_bad_row, prep.max_rows, prep.check_images) == ("raise", -1, True)
    pick = C.SelectionView.from_slice(C.slice_for(embedded, "select_cold_start", {}))
    assert (pick.size, pick.seed) == (embedded["cold_start"]["size"], 0)


def test_pretrain_view_round_trips_to_its_slice(embedded, schema):
    cfg = C.slice_for(embedded, "pretrain_backbone", {})
    view = C.BackboneView.from_slice(cfg)
    assert (view.pretrain.warmup_ramp, view.pretrain.probe_batch) == (30, 64)  # schema defaults
    # the report writes the pretraining settings back: exactly the slice's
    assert view.pretrain.as_dict() == cfg["pretrain"] and view.as_dict()["tiny"] == cfg["tiny"]
    hub = C.validate(C.load_yaml(ROOT / "config/paper.yaml"), schema)
    paper = C.BackboneView.from_slice(C.slice_for(hub, "pretrain_backbone", {}))
    assert (paper.source, paper.pretrain, paper.attn_implementation) == ("hub", None, "sdpa")
    with pytest.raises(C.ConfigError, match="backbone.pretrain: a tiny backbone needs"):
        C.BackboneView.from_slice({k: v for k, v in cfg.items() if k != "pretrain"})
    with pytest.raises(C.ConfigError, match="backbone.source: 'cloud'"):
        C.BackboneView.from_slice({**cfg, "source": "cloud"})


def _smoke_with_captions(schema, value: str | None) -> dict:
    config = C.load_yaml(ROOT / "config/smoke.yaml")
    if value is not None:
        config["backbone"]["pretrain"]["caption_prompts"] = value
    return C.validate(config, schema)


def test_fixed_caption_prompts_keep_the_backbone_slice_byte_for_byte(schema):
    unset = _smoke_with_captions(schema, None)
    assert "caption_prompts" not in unset["backbone"]["pretrain"]  # no schema default
    # the slice as it was before the key existed
    before = {"seed": unset["seed"], **unset["backbone"], "generation": unset["generation"]}
    assert json.dumps(C.slice_for(unset, "pretrain_backbone", {})) == json.dumps(before)
    fixed = _smoke_with_captions(schema, "fixed")
    assert json.dumps(C.slice_for(fixed, "pretrain_backbone", {})) == json.dumps(before)
    view = C.BackboneView.from_slice(C.slice_for(fixed, "pretrain_backbone", {})).pretrain
    assert (view.caption_prompts, view.prompt_protocol) == ("fixed", "mmeb")


def test_varied_caption_prompts_reach_the_view_with_the_eval_protocol(schema, embedded):
    varied = _smoke_with_captions(schema, "varied")
    cfg = C.slice_for(varied, "pretrain_backbone", {})
    assert cfg["pretrain"]["caption_prompts"] == "varied"
    assert cfg["pretrain"]["prompt_protocol"] == varied["evaluate"]["prompt_protocol"]
    view = C.BackboneView.from_slice(cfg).pretrain
    assert (view.caption_prompts, view.prompt_protocol) == ("varied", "rge_release")
    # the embedded study opts in; only the backbone (of the jobs before the cold start) reruns
    assert embedded["backbone"]["pretrain"]["caption_prompts"] == "varied"
    assert changed_jobs(embedded, "backbone.pretrain.caption_prompts", "fixed") == {
        "pretrain_backbone"
    }
    with pytest.raises(C.ConfigError, match="caption_prompts"):
        _smoke_with_captions(schema, "random")
    with pytest.raises(C.ConfigError, match="caption_prompts: 'random' is not fixed.varied"):
        C.PretrainView.from_slice({**cfg["pretrain"], "caption_prompts": "random"})


def test_a_missing_key_is_a_key_error_naming_it(embedded):
    cfg = C.slice_for(embedded, "check_rationales", {"subset": "SynObjects"})
    assert C.RationaleCheckView.from_slice(cfg).fail_on_bad is False
    with pytest.raises(KeyError) as caught:
        C.RationaleCheckView.from_slice({"subset": "SynObjects"})
    assert isinstance(caught.value, C.ConfigError)
    assert str(caught.value) == (
        "RationaleCheckView: slice lacks key(s) ['fail_on_bad']; has ['subset']"
    )


def test_views_thaw_back_to_json(embedded):
    cfg = C.slice_for(embedded, "leakage_curves", {"variant": "consistent"})
    view = C.DiagnosticsView.from_slice(cfg)
    assert (view.chunk_size, view.as_dict()["generation"]) == (0, embedded["generation"])
    shard = C.slice_for(embedded, "oracle_rationales", {"subset": "SynObjects", "shard": "0"})
    settings = {"stop": ["</s>"], "mm_processor_kwargs": {"sizes": [1, 2]}}
    frozen = C.RationalesView.from_slice({**shard, "settings": settings})
    assert frozen.settings["stop"] == ("</s>",)  # immutable in the view
    assert C.thaw(frozen.settings) == settings  # plain lists and dicts for the backend
    with pytest.raises(C.ConfigError, match="unknown variant 'shuffled'"):
        C.DiagnosticsView.from_slice({**cfg, "variant": "shuffled"})


def test_page_and_figure_views(embedded):
    page = C.PageView.from_slice(C.slice_for(embedded, "report", {}))
    assert list(page.runs) == list(embedded["runs"]) and page.tasks["SynGround"]["split"] == "IND"
    # a seeded run's examples are its first replicate's
    assert (page.rge_run, page.rge_mode, page.examples_per_task) == ("rge@0", "reasoning", 2)
    fig = C.ReportView.from_slice(C.slice_for(embedded, "figure4", {}))
    assert (fig.study, fig.window, fig.smooth) == ("embedded", 20, 1)


# --- eval-only runs -------------------------------------------------------------------------------


def test_an_eval_only_run_is_evaluated_never_trained(embedded, paper):
    assert C.eval_only(embedded, "untrained_backbone") and not C.eval_only(embedded, "rge")
    assert "untrained_backbone" in C.active_runs(embedded)
    assert "untrained_backbone" not in C.trained_runs(embedded)
    assert C.run_model(embedded, "untrained_backbone") == "data/embedded/pretrain_backbone/model"
    assert C.run_model(embedded, "rge@1") == "data/embedded/train_run/rge@1/model"
    with pytest.raises(C.ConfigError, match=r"'rge' is replicated over seeds: name one of"):
        C.run_model(embedded, "rge")
    assert C.run_model(paper, "released_rge") == "data/paper/fetch_checkpoint/released_rge/model"
    assert C.hub_checkpoint_runs(paper) == ["released_rge"] and not C.hub_checkpoint_runs(embedded)
    assert C.slice_for(paper, "fetch_checkpoint", {"run": "released_rge"}) == {
        "run": "released_rge", "repo_id": "MCG-NJU/RGE", "revision": "main", "add_emb": False,
    }  # fmt: skip
    assert C.slice_for(embedded, "score_mmeb", {"run": "untrained_backbone", "mode": "direct"})[
        "eval_only"
    ]
    assert "untrained_backbone" not in C.reported_trained_runs(embedded)
    with pytest.raises(C.ConfigError, match="eval-only run has no training settings"):
        C.run_config(embedded, "untrained_backbone")


def test_paper_tables_show_the_released_checkpoint(paper):
    for table in ("table2", "table6", "table7", "table15"):
        assert "released_rge" in C.table_runs(paper, table)
    table7 = C.slice_for(paper, "table7", {})
    assert table7["eval_only_modes"] == {"released_rge": ["direct", "reasoning"]}
    assert C.ReportView.from_slice(table7).shown_runs() == ("baseline_cs", "rge", "released_rge")
    assert C.table_rows(paper, "table6")["Released RGE (reasoning, eval-only)"] == (
        "released_rge", "reasoning",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{checkpoint: {source: hub}}", "source hub needs repo_id"),
        ("{checkpoint: {source: path}}", "source path needs path"),
        ("{objective: baseline, checkpoint: {source: backbone}}", "either|eval-only"),
        ("{eval_modes: [direct]}", "either|eval-only"),
    ],
)
def test_a_bad_eval_only_entry_fails_at_load(schema, entry, message):
    with pytest.raises(C.ConfigError, match=message):
        validated(schema, f"runs: {{baseline: {{objective: baseline}}, x: {entry}}}")


def test_an_eval_only_run_never_stands_in_a_training_comparison(schema):
    entry = "untrained_backbone: {checkpoint: {source: backbone}}"
    with pytest.raises(C.ConfigError, match=r"report.table7.rge_run: 'untrained_backbone' is eval"):
        validated(
            schema,
            f"runs: {{baseline: {{objective: baseline}}, {entry}}}\n"
            "report: {table7: {baseline_run: baseline, rge_run: untrained_backbone, "
            "benches: {SynCOCO: coco}}}",
        )
    with pytest.raises(C.ConfigError, match=r"report.table3.rows\[0\]"):
        validated(
            schema,
            f"runs: {{baseline: {{objective: baseline}}, {entry}}}\n"
            "report: {table3: {rows: [{label: x, run: untrained_backbone, mode: direct}]}}",
        )


@pytest.mark.parametrize("configfile", ["config/config.yaml", "config/smoke.yaml"])
def test_table15_shows_the_papers_own_two_models_beside_ours(schema, configfile):
    """Nine paper models beside the synthetic tasks were screens of empty cells."""
    import csv

    cfg = C.slice_for(C.validate(C.load_yaml(ROOT / configfile), schema), "table15")
    header = next(csv.reader((ROOT / "config/paper_numbers/table15_mmeb_per_dataset.csv").open()))
    assert cfg["paper_columns"] == ["Baseline (Qwen2.5-VL-3B)", "RGE (Qwen2.5-VL-3B)"]
    assert set(cfg["paper_columns"]) <= set(header)


def test_an_eval_only_row_keeps_its_label_beside_templated_ones(paper):
    """Table 6 (paper) mixes trained rows with the released checkpoint's: only trained rows'
    labels are templated from their settings."""
    cfg = C.slice_for(paper, "table6", {})
    assert tuple(cfg["rows"]["Released RGE (reasoning, eval-only)"]) == (
        "released_rge",
        "reasoning",
    )
    assert "Released RGE (reasoning, eval-only)" not in cfg.get("label_templates", {})


# --- seeds, matched initialisation, cold-start data (issue 12) -------------------------------


def unseeded(schema) -> dict:
    """The embedded config with every ``seeds:`` removed: the registry as it was before."""
    config = C.load_yaml(ROOT / "config/config.yaml")
    for entry in config["runs"].values():
        entry.pop("seeds", None)
    return C.validate(config, schema)


def test_seeds_expand_to_replicates_in_place_each_with_its_seed(embedded):
    runs = list(embedded["runs"])
    assert runs[:6] == [f"{r}@{s}" for r in ("baseline_cs", "baseline") for s in (0, 1, 2)]
    assert C.replicates(embedded, "rge") == ["rge@0", "rge@1", "rge@2"]
    assert [C.run_seed(embedded, r) for r in C.replicates(embedded, "rge")] == [0, 1, 2]
    assert "seeds" not in embedded["runs"]["rge@1"] and "rge" not in embedded["runs"]
    # a run without seeds is its own replicate, trained with the study's seed
    assert C.replicates(embedded, "alpha_1_1") == ["alpha_1_1"]
    assert C.run_seed(embedded, "alpha_1_1") == embedded["seed"] == 0
    # expanding again changes nothing (a validated config may be validated twice)
    again = C.validate(copy.deepcopy(embedded), C.load_schema(ROOT / C.SCHEMA))
    assert list(again["runs"]) == runs


def test_a_base_name_resolves_to_its_replicates(embedded):
    assert C.seeded(embedded, "rge") and not C.seeded(embedded, "rge@0")
    assert C.active(embedded, "rge") and C.known(embedded, "rge")
    assert C.run_modes(embedded, "rge") == ["direct", "reasoning"]
    assert C.run_config(embedded, "rge")["pair"] == "q_self"
    assert not C.eval_only(embedded, "pair_q_oracle") and C.base_run("rge@2") == "rge"
    assert C.pooled_runs(embedded) == ["baseline_cs", "baseline", "rge", "pair_q_oracle"]
    assert "rge@2" in C.reported_trained_runs(embedded) and "rge" not in C.reported_runs(embedded)
    assert C.replicates(embedded, "no_such_run") == ["no_such_run"]
    assert not C.known(embedded, "no_such_run")


def test_replicates_train_and_sample_with_their_own_seed(embedded):
    slices = [C.slice_for(embedded, "train_run", {"run": f"rge@{s}"}) for s in (0, 1, 2)]
    assert [s["seed"] for s in slices] == [0, 1, 2] and slices[2]["run"] == "rge@2"
    # the replicates differ in run name and seed only
    assert [{k: v for k, v in s.items() if k not in ("run", "seed")} for s in slices[1:]] == [
        {k: v for k, v in slices[0].items() if k not in ("run", "seed")}
    ] * 2
    for rule in ("embed_eval", "score_retrieval"):
        wc = {"run": "rge@2", "mode": "reasoning", "bench": "SynFlickr", "qmode": "direct",
              "tmode": "reasoning"}  # fmt: skip
        assert C.slice_for(embedded, rule, wc)["seed"] == 2
    # the shared jobs keep the study's seed
    assert C.slice_for(embedded, "cold_start", {})["seed"] == 0
    assert C.slice_for(embedded, "pool_seeds", {"run": "rge", "mode": "direct"}) == {
        "run": "rge", "mode": "direct", "replicates": ["rge@0", "rge@1", "rge@2"],
        "seeds": [0, 1, 2],
    }  # fmt: skip


def test_runs_without_seeds_keep_their_slices(schema, embedded):
    before = unseeded(schema)
    for rule, wc in [
        ("train_run", {"run": "alpha_1_1"}),
        ("train_run", {"run": "leak_q"}),
        ("embed_eval", {"run": "alpha_10_1", "mode": "reasoning"}),
        ("score_mmeb", {"run": "leak_self", "mode": "reasoning"}),
        ("cold_start", {}),
    ]:
        assert C.slice_for(embedded, rule, wc) == C.slice_for(before, rule, wc), (rule, wc)
    one = C.slice_for(before, "train_run", {"run": "rge"})
    assert one["seed"] == 0 and "data" not in one  # no new key: no rerun of an unseeded run
    assert C.slice_for(before, "table3", {})["rows"]["1:10"] == ("rge", "reasoning")


def test_seeds_on_an_eval_only_run_or_a_taken_name_are_refused(schema):
    with pytest.raises(C.ConfigError, match=r"runs\.untrained_backbone\.seeds: an eval-only"):
        validated(
            schema, "runs: {untrained_backbone: {checkpoint: {source: backbone}, seeds: [0]}}"
        )
    clash = "runs: {rge: {objective: rge, seeds: [1]}, rge@1: {objective: rge}}"
    with pytest.raises(C.ConfigError, match=r"'rge@1' is already in the registry"):
        validated(schema, clash)
    with pytest.raises(C.ConfigError, match=r"runs\.rge\.seeds"):
        validated(schema, "runs: {rge: {objective: rge, seeds: [1, 1]}}")  # uniqueItems


def test_matched_baseline_starts_from_the_cold_start_in_every_config(embedded, paper):
    smoke = C.load(ROOT / "config/smoke.yaml", ROOT / C.SCHEMA)
    for config in (embedded, smoke, paper):
        run = C.run_config(config, "baseline_cs")
        assert (run["objective"], run["init"]) == ("baseline", "cold_start")
        assert C.table_rows(config, "table4")["q->t"] == ("baseline_cs", "direct")
        assert C.table_rows(config, "table6")["Baseline (backbone init)"] == ("baseline", "direct")
        assert {"baseline_cs", "baseline"} <= set(C.table_runs(config, "table2"))


def test_data_cold_start_trains_on_the_selection_only(paper):
    for run in ("baseline_cs", "pair_q_oracle", "alpha_100_1", "alpha_1_100"):
        assert C.run_config(paper, run)["data"] == "cold_start"
        assert C.slice_for(paper, "train_run", {"run": run})["data"] == "cold_start"
    assert C.run_config(paper, "rge")["data"] == "all"
    assert "data" not in C.slice_for(paper, "train_run", {"run": "rge"})


def test_the_cold_start_probe_evaluates_the_cold_start_on_in_domain_image_tasks(embedded):
    assert C.eval_only(embedded, "cold_start_probe")
    assert C.run_model(embedded, "cold_start_probe") == "data/embedded/cold_start/model"
    assert C.run_modes(embedded, "cold_start_probe") == ["reasoning"]
    tasks = C.run_eval_tasks(embedded, "cold_start_probe")
    assert tasks == ["SynObjects", "SynColorQA", "SynCOCO_i2t", "SynNews_i2t", "SynGround"]
    assert all(embedded["tasks"]["eval"][t]["split"] == "IND" for t in tasks)
    shown = {r for t in C.reported_tables(embedded) for r in C.table_runs(embedded, t)}
    assert "cold_start_probe" not in shown  # never a row of a comparison


def test_a_cold_start_checkpoint_in_a_training_comparison_is_refused(schema):
    text = """
runs: {probe: {checkpoint: {source: cold_start}, eval_modes: [reasoning]}}
report: {table4: {rows: [{label: "q->t", run: probe, mode: reasoning}]}}
"""
    with pytest.raises(C.ConfigError, match=r"report\.table4\.rows\[0\]: 'probe' is eval-only"):
        validated(schema, text)
