"""Reading oracle rationale files."""

import pytest

from rge.io import write_jsonl
from rge.rationale.store import FIELDS, read_rationales


def _row(key, text):
    row = dict.fromkeys(FIELDS)
    return {**row, "key": key, "subset": key.split("/")[0], "rationale": text}


def test_reads_rows_across_files(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [_row("A/0", "left is red")])
    write_jsonl(tmp_path / "b.jsonl", [_row("B/0", "right is blue")])
    got = read_rationales([tmp_path / "a.jsonl", tmp_path / "b.jsonl"])
    assert got == {"A/0": "left is red", "B/0": "right is blue"}


def test_duplicate_key_is_named(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", [_row("A/0", "x"), _row("A/0", "y")])
    with pytest.raises(ValueError, match=r"a.jsonl:2: duplicate rationale for 'A/0'"):
        read_rationales([tmp_path / "a.jsonl"])


def test_missing_field_is_named(tmp_path):
    row = _row("A/0", "x")
    del row["prompt_hash"]
    write_jsonl(tmp_path / "a.jsonl", [row])
    with pytest.raises(ValueError, match="prompt_hash"):
        read_rationales([tmp_path / "a.jsonl"])
