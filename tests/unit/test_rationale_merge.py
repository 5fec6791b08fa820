"""rge.rationale.merge: shards of one subset merged in row-number order, gaps named."""

from __future__ import annotations

import pytest

from rge.data.mmeb import write_train_records
from rge.data.records import Item, TrainPair
from rge.io import write_jsonl
from rge.rationale.merge import key_order, merge_shards
from rge.rationale.store import FIELDS


def row(key: str, subset: str = "S") -> dict:
    return {f: None for f in FIELDS} | {"key": key, "subset": subset, "rationale": f"r {key}"}


def test_key_order_is_numeric_within_a_subset_and_text_keys_last():
    keys = ["S/10", "S/x", "S/2", "R/5", "S/1"]
    assert sorted(keys, key=key_order) == ["R/5", "S/1", "S/2", "S/10", "S/x"]


def test_merge_sorts_rows_of_interleaved_shards(tmp_path):
    records = tmp_path / "records.jsonl"
    keys = [f"S/{i}" for i in range(12)]
    write_train_records(records, [TrainPair(k, "S", Item("q"), Item("t")) for k in keys])
    shards = [tmp_path / "s0.jsonl", tmp_path / "s1.jsonl"]
    write_jsonl(shards[0], [row(k) for k in keys[0::2]])
    write_jsonl(shards[1], [row(k) for k in keys[1::2]])
    merged = merge_shards(shards, "S", records)
    assert [r["key"] for r in merged] == keys  # S/10 after S/9, not after S/1


def test_merge_names_missing_and_unknown_keys(tmp_path):
    records = tmp_path / "records.jsonl"
    write_train_records(records, [TrainPair(f"S/{i}", "S", Item("q"), Item("t")) for i in (0, 1)])
    shard = tmp_path / "s.jsonl"
    write_jsonl(shard, [row("S/0"), row("S/9")])
    with pytest.raises(ValueError, match=r"1 record\(s\) without a rationale \['S/1'\].*\['S/9'\]"):
        merge_shards([shard], "S", records)
