"""rge.data.protocol: the release's rewrite semantics, the table loader's errors, both phases."""

from __future__ import annotations

import pytest

from rge.data.protocol import (
    TABLE_FILES,
    PromptTables,
    ProtocolError,
    Rule,
    coverage,
    dump_table,
    ensure_newline,
    eval_rows,
    load_table,
    load_tables,
    missing_entries,
    rewrite,
    tables_for,
    train_pairs,
)
from rge.data.records import EvalRow, Item, TrainPair
from tests.fixtures.shared_fixtures import RELEASE_PROMPTS, need


def test_order_value_map_replace_prefix_suffix_then_newline():
    rule = Rule(
        value_map={"Yes": "Yes it is"},
        original="it",
        replacement="that",
        prefix_add="P: ",
        suffix_add=" !",
    )
    assert rewrite("Yes", rule) == "P: Yes that is !\n"
    # value_map is exact: "Yes." is not mapped; replace hits every occurrence
    assert rewrite("Yes. it, it", rule) == "P: Yes. that, that !\n"
    assert rewrite("no entry", None) == "no entry\n"  # newline rule without an entry
    assert ensure_newline("a\n") == "a\n" and ensure_newline("") == "\n"


def test_release_tables_load_and_known_rewrites():
    t = load_tables(need(RELEASE_PROMPTS))
    assert len(t.candidate) == 37 and len(t.eval) == 37 and len(t.train) == 37
    differ = sorted(k for k in t.train if t.train[k] != t.eval.get(k))
    assert differ == ["MSCOCO", "MSCOCO_i2t", "MSCOCO_t2i"]
    assert rewrite("No", t.candidate["HatefulMemes"]) == (
        "Summarize the following statement in one word: No, it does not contain hateful speech.\n"
    )
    assert rewrite(
        "<|image_1|>\nRepresent the given image with the following question: x", t.eval["OK-VQA"]
    ) == ("<|image_1|>\nAnswer the question based on the given image: x\n")


def _write(tmp_path, text, name="candidate_replacements.yaml"):
    path = tmp_path / name
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- a\n- b\n", "top level must map"),
        ("Sub: 3\n", "subset 'Sub': expected a mapping"),
        ("Sub:\n  prefx_add: x\n", "unknown key(s) ['prefx_add']"),
        ("Sub:\n  prefix_add: 3\n", "subset 'Sub', key 'prefix_add': expected a string"),
        ("Sub:\n  replacement: x\n", "key 'replacement': given without 'original'"),
        ("Sub:\n  value_map: [a]\n", "key 'value_map'"),
        ("Sub:\n  value_map: {a: 1}\n", "key 'value_map'"),
        ("Sub: [\n", "not valid YAML"),
    ],
)
def test_loader_errors_name_file_subset_key(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(ProtocolError) as err:
        load_table(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_missing_table_file(tmp_path):
    for name in list(TABLE_FILES.values())[:2]:
        _write(tmp_path, "A:\n  prefix_add: 'x '\n", name)
    with pytest.raises(FileNotFoundError, match="candidate_replacements.yaml"):
        load_tables(tmp_path)


def test_dump_table_round_trips(tmp_path):
    rules = {
        "A": Rule(prefix_add="Summarize: "),
        "B": Rule(value_map={"Yes": "Yes, yes."}, original="x", replacement="y", suffix_add="!"),
    }
    path = _write(tmp_path, dump_table(rules))
    assert load_table(path) == rules


TABLES = PromptTables(
    train={"Sub": Rule(original="Represent", replacement="Train")},
    eval={"task": Rule(original="Represent", replacement="Eval")},
    candidate={"task": Rule(prefix_add="C: "), "Sub": Rule(prefix_add="T: ")},
)


def test_eval_rows_rewrite_queries_and_candidates_keep_marker():
    row = EvalRow(
        "task/0", "task", Item("<|image_1|>\nRepresent x", "q.jpg"), (Item("a"), Item("b", "c.jpg"))
    )
    other = EvalRow("none/0", "none", Item("Represent y"), (Item("a"),))
    out = eval_rows([row, other], "rge_release", TABLES)
    assert out[0].query == Item("<|image_1|>\nEval x\n", "q.jpg")
    assert out[0].candidates == (Item("C: a\n"), Item("C: b\n", "c.jpg"))
    assert out[1].query.text == "Represent y\n" and out[1].candidates[0].text == "a\n"
    assert eval_rows([row], "mmeb", None) == [row]
    with pytest.raises(ValueError, match="needs the rewrite tables"):
        eval_rows([row], "rge_release", None)
    with pytest.raises(ValueError, match="unknown prompt protocol"):
        eval_rows([row], "vlm2vec", TABLES)


def test_train_pairs_use_train_table_and_drop_marker():
    pair = TrainPair(
        "Sub/0",
        "Sub",
        Item("<|image_1|>\nRepresent x", "q.jpg"),
        Item("p"),
        (Item("<|image_1|> n", "n.jpg"),),
    )
    out = train_pairs([pair], "rge_release", TABLES)[0]
    assert out.query == Item("\nTrain x\n", "q.jpg")
    assert out.pos == Item("T: p\n") and out.negs == (Item("T:  n\n", "n.jpg"),)
    mmeb = train_pairs([pair], "mmeb", None)[0]
    assert mmeb.query == Item("\nRepresent x", "q.jpg") and mmeb.pos == Item("p")


def test_missing_entries_and_coverage():
    assert missing_entries(["task", "Sub", "x"], TABLES.candidate) == ["x"]
    assert coverage(TABLES, train=["Sub", "New"], eval=["task", "Sub"]) == {
        "train_queries": ["New"],
        "train_targets": ["New"],
        "eval_queries": ["Sub"],
        "eval_targets": [],
    }


def test_tables_for_protocol(tmp_path):
    assert tables_for("mmeb", None) is None
    with pytest.raises(ValueError, match="fetch_prompt_tables"):
        tables_for("rge_release", "")
    assert tables_for("rge_release", need(RELEASE_PROMPTS)).eval["OK-VQA"].original is not None
