"""rge.train.run's file-level helpers: row selection, resume folder, required keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from rge.config import MissingKeyError
from rge.data.mmeb import write_train_records
from rge.data.records import Item, TrainPair
from rge.train.run import RUNTIME, job_settings, load_pairs, select_pairs, work_dir_for
from tests.fixtures.slices import stage_cfg


def pair(key: str) -> TrainPair:
    return TrainPair(key, key.split("/")[0], Item(f"q {key}"), Item(f"t {key}"))


def test_select_pairs_keeps_record_order_not_selection_order():
    pairs = [pair("A/0"), pair("A/1"), pair("B/0"), pair("B/1")]
    chosen = select_pairs(pairs, ["B/1", "A/0"], Path("sel.json"))
    assert [p.key for p in chosen] == ["A/0", "B/1"]


def test_select_pairs_names_absent_keys_and_refuses_an_empty_selection():
    pairs = [pair("A/0")]
    with pytest.raises(KeyError, match=r"sel.json: 2 selected key\(s\).*\['A/7', 'C/1'\]"):
        select_pairs(pairs, ["A/0", "C/1", "A/7"], Path("sel.json"))
    with pytest.raises(ValueError, match="sel.json: the selection is empty"):
        select_pairs(pairs, [], Path("sel.json"))


def test_resume_state_sits_beside_the_model_output():
    assert work_dir_for(Path("data/train_run/rge/model")) == Path("data/train_run/rge/model.ckpt")


def test_job_settings_names_the_stage_and_every_missing_key():
    cfg = stage_cfg("cold_start")
    del cfg["max_pixels"], cfg["lr"]
    with pytest.raises(MissingKeyError, match=r"cold_start: cfg lacks required key\(s\) "
                       r"\['max_pixels', 'lr', 'objective'\]"):  # fmt: skip
        job_settings(cfg, "cold_start", required=("objective",))


def test_load_pairs_concatenates_files_in_order_and_refuses_none(tmp_path):
    a, b, empty = tmp_path / "a.jsonl", tmp_path / "b.jsonl", tmp_path / "e.jsonl"
    write_train_records(a, [pair("A/0"), pair("A/1")])
    write_train_records(b, [pair("B/0")])
    write_train_records(empty, [])
    assert [p.key for p in load_pairs([b, a])] == ["B/0", "A/0", "A/1"]
    assert [p.key for p in load_pairs(a)] == ["A/0", "A/1"]
    with pytest.raises(ValueError, match="no training records"):
        load_pairs(empty)


def test_job_settings_put_the_slice_over_the_runtime_keys_and_add_no_config_key():
    cfg = stage_cfg("train_run", {"run": "baseline"}, threads=1)
    c = job_settings(cfg, "train_run", required=("objective", "init"))
    # every key is the slice's (the schema's defaults) or RUNTIME's: none comes from elsewhere
    assert set(c) == set(cfg) | set(RUNTIME)
    assert c["threads"] == 1 and c["dtype"] == RUNTIME["dtype"] and c["lr"] == cfg["lr"]
    assert c["objective"] == "baseline" and c["deepspeed"] is None


def test_load_pairs_puts_the_records_in_the_prompt_protocol(tmp_path):
    from rge.data.protocol import TABLE_FILES, Rule, dump_table

    records = tmp_path / "a.jsonl"
    query = Item("<|image_1|>\nIdentify the object.", "img.png")
    write_train_records(records, [TrainPair("A/0", "A", query, Item("tench"))])
    tables = tmp_path / "tables"
    tables.mkdir()
    rules = {
        "train": {"A": Rule(original="Identify the object.", replacement="Name it.")},
        "eval": {},
        "candidate": {"A": Rule(prefix_add="Summarize: ")},
    }
    for role, table in rules.items():
        (tables / TABLE_FILES[role]).write_text(dump_table(table), encoding="utf-8")
    (rewritten,) = load_pairs(records, "rge_release", tables)
    # the release's training layout: the image first (the marker dropped), one trailing newline
    assert rewritten.query.text == "\nName it.\n" and rewritten.query.image
    assert rewritten.pos == Item("Summarize: tench\n")
    (published,) = load_pairs(records, "mmeb")
    assert published.query.text == "\nIdentify the object."
    assert published.pos == Item("tench")
    with pytest.raises(ValueError, match="fetch_prompt_tables"):
        load_pairs(records, "rge_release")
