"""Rationale quality checks and the resumable partial file."""

import json

import pytest

from rge.rationale.checks import forbidden_hits, is_garbled, issues, summarize, word_count
from rge.rationale.partial import append_rows, partial_path, read_partial

PHRASES = ("positive sample", "ground truth", "target")


def test_word_count():
    assert word_count("left is blue circle , right is red cross .") == 10
    assert word_count("   ") == 0


@pytest.mark.parametrize(
    ("text", "hits"),
    [
        ("The Target is a cat.", ["target"]),
        ("two targets here", ["target"]),
        ("this is the Ground-Truth label", ["ground truth"]),
        ("a positive  sample of it; ground truth too", ["positive sample", "ground truth"]),
        ("the targeted ad and a groundtruthing step", []),
        ("a dog on grass", []),
    ],
)
def test_forbidden_hits_whole_words_any_case(text, hits):
    assert forbidden_hits(text, PHRASES) == hits


@pytest.mark.parametrize(
    ("text", "garbled"),
    [
        ("left is blue circle , right is red cross . the left one is blue .", False),
        ("The difference is 2.87%, so June had more rain.", False),
        ("/\ufffd+\ufffdd\ufffd\ufffd^", True),
        ("a cat <|im_end|> sits", True),
        ("12 34 ;; 56 ## 78 %% 9", True),
        ("the the the the the end", True),
        ("the the the the end", False),
    ],
)
def test_is_garbled(text, garbled):
    assert is_garbled(text) is garbled


def test_issues_and_summary_counts():
    long = " ".join(["word"] * 3 + ["other"] * 49)  # 52 words
    rows = [
        {"key": "S/0", "rationale": "a blue circle on the left ."},
        {"key": "S/1", "rationale": "   "},
        {"key": "S/2", "rationale": long},
        {"key": "S/3", "rationale": "the target is red ."},
        {"key": "S/4", "rationale": "Target target <emb>"},
    ]
    assert issues(rows[1]["rationale"], max_words=50, phrases=PHRASES) == ["empty"]
    assert issues(rows[4]["rationale"], max_words=50, phrases=PHRASES) == ["forbidden", "garbled"]
    rep = summarize(rows, max_words=50, phrases=PHRASES, n_examples=2)
    assert rep["count"] == 5
    assert (rep["empty"], rep["over_length"], rep["forbidden"], rep["garbled"]) == (1, 1, 2, 2)
    assert rep["bad"] == 4
    assert rep["forbidden_phrase_hits"] == {"target": 2}
    assert rep["mean_words"] == pytest.approx((7 + 0 + 52 + 5 + 3) / 5)
    assert rep["max_words_seen"] == 52
    assert [e["key"] for e in rep["examples"]] == ["S/1", "S/2"]


def test_partial_file_drops_a_truncated_tail_and_duplicates(tmp_path):
    out = tmp_path / "shard.jsonl"
    part = partial_path(out)
    assert part == tmp_path / "shard.jsonl.partial"
    append_rows(part, [{"key": "a", "v": 1}, {"key": "b", "v": 2}])
    append_rows(part, [{"key": "a", "v": 3}])
    with open(part, "a") as fh:
        fh.write('{"key": "c", "v"')  # a kill in the middle of a write
    assert read_partial(part) == {"a": {"key": "a", "v": 1}, "b": {"key": "b", "v": 2}}
    assert read_partial(tmp_path / "none.partial") == {}


def test_partial_file_broken_in_the_middle_raises(tmp_path):
    part = tmp_path / "x.partial"
    part.write_text('{"key": "a"}\n{broken\n' + json.dumps({"key": "b"}) + "\n")
    with pytest.raises(ValueError, match="x.partial:2"):
        read_partial(part)
