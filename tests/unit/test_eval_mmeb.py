"""The MMEB protocol on tiny rows: dedup, own-candidate scoring, tie policy, the embedding cache."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rge.data.records import EvalRow, Item
from rge.evaluate.cache import EmbeddingCache
from rge.evaluate.mmeb import candidate_list_counts, embed_unique, evaluate_task, normalise
from tests.fixtures.eval_fakes import WordEncoder, colour_rows, constant_encoder


def test_evaluate_task_hand_computed():
    enc = WordEncoder()
    result = evaluate_task(colour_rows(), enc)
    assert (result.acc, result.num_correct, result.num_pred) == (0.75, 3, 4)
    assert [p["pred"] for p in result.predictions] == [0, 0, 1, 0]
    assert [p["correct"] for p in result.predictions] == [True, True, False, True]
    row2 = result.predictions[2]
    assert row2["key"] == "toy/2" and row2["num_candidates"] == 3
    assert row2["gt_score"] == pytest.approx(0.0) and row2["best_other_score"] == pytest.approx(1.0)


def test_each_unique_item_embedded_once_per_side():
    enc = WordEncoder()
    evaluate_task(colour_rows(), enc)
    queries, targets = enc.encoded("query"), enc.encoded("target")
    assert len(queries) == 3  # red, green, blue (row 3 repeats row 0's query)
    assert len(targets) == 4  # four distinct candidate texts over 12 candidate slots
    assert len({q.key for q in queries}) == 3 and len({t.key for t in targets}) == 4


def test_constant_embedding_release_rule_100_strict_0():
    # issue 11: the release's argmax gives every tie to the truth; the strict rule shows the
    # collapse (both are written, tables flag the gap)
    result = evaluate_task(colour_rows(), constant_encoder)
    assert result.acc == 1.0 and all(p["pred"] == 0 for p in result.predictions)
    assert result.acc_strict == 0.0 and all(p["pred_strict"] != 0 for p in result.predictions)
    assert result.summary() == {
        "acc": 1.0, "num_correct": 4, "num_pred": 4, "acc_strict": 0.0, "num_correct_strict": 0,
    }  # fmt: skip


class _CraneEncoder:
    """Query nearest to "crane", then goldfish, then tench."""

    VEC = {"crane": [1.0, 0.0], "goldfish": [0.8, 0.6], "tench": [0.0, 1.0], "q": [1.0, 0.0]}

    def __call__(self, items, side):
        return np.array([self.VEC[it.text] for it in items], dtype=np.float32)


def test_identical_ground_truth_copy_counts_as_ground_truth():
    names = ["crane", "goldfish", "crane", "tench"]
    row = EvalRow("t/0", "t", Item("q"), tuple(Item(n) for n in names))
    result = evaluate_task([row], _CraneEncoder())
    assert (result.acc, result.acc_strict) == (1.0, 0.0)
    pred = result.predictions[0]
    assert pred["pred"] == 0 and pred["correct"] and pred["num_gt_copies"] == 1
    assert pred["pred_strict"] == 2 and not pred["correct_strict"]
    assert pred["best_other_score"] == pytest.approx(0.8)  # goldfish: copies are not "other"
    # the same item in a different image is another item: no longer the truth
    cands = (Item("crane", "/a.png"), Item("goldfish"), Item("crane", "/b.png"), Item("tench"))
    enc = lambda items, side: np.array([[1.0, 0.0]] * len(items), dtype=np.float32)  # noqa: E731
    r = evaluate_task([EvalRow("t/1", "t", Item("q"), cands)], enc)
    assert r.predictions[0]["num_gt_copies"] == 0 and r.acc == 1.0 and r.acc_strict == 0.0


def test_candidate_list_counts():
    rows = colour_rows() + [
        EvalRow("t/4", "t", Item("q"), (Item("a"), Item("b"), Item("a"))),
        EvalRow("t/5", "t", Item("q"), (Item("a"), Item("b"), Item("b"), Item("b"))),
    ]
    assert candidate_list_counts(rows) == {
        "num_rows": 6, "rows_gt_repeated": 1, "rows_with_duplicates": 2, "duplicate_candidates": 3,
    }  # fmt: skip


def test_scores_only_against_own_candidates():
    # the query "blue" would win against another row's "blue" candidate, but its own list
    # holds only red and green: the truth (red, scoring 0) ties with green -> a miss under the
    # strict rule, a hit under the release's argmax
    rows = [
        EvalRow("t/0", "t", Item("blue"), (Item("the colour red"), Item("the colour green"))),
        EvalRow("t/1", "t", Item("red"), (Item("the colour red"), Item("the colour blue"))),
    ]
    result = evaluate_task(rows, WordEncoder())
    assert [p["pred_strict"] for p in result.predictions] == [1, 0]
    assert [p["pred"] for p in result.predictions] == [0, 0]


def test_bad_rows_and_encoder_output_raise():
    with pytest.raises(ValueError, match="no rows"):
        evaluate_task([], WordEncoder())
    with pytest.raises(ValueError, match="t/0"):
        evaluate_task([EvalRow("t/0", "t", Item("q"), ())], WordEncoder())
    wrong = lambda items, side: np.zeros((len(items) + 1, 3))  # noqa: E731
    with pytest.raises(ValueError, match="shape"):
        evaluate_task(colour_rows(), wrong)
    nan = lambda items, side: np.full((len(items), 3), np.nan)  # noqa: E731
    with pytest.raises(ValueError, match="NaN"):
        evaluate_task(colour_rows(), nan)


def test_normalise_and_zero_rows():
    out = normalise(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(out, [[0.6, 0.8], [0.0, 0.0]])


def test_embed_unique_order_and_index():
    items = [Item("a red"), Item("b blue"), Item("a red"), Item("x", "/i.png")]
    index, vecs = embed_unique(items, "query", WordEncoder())
    assert list(index) == [("a red", ""), ("b blue", ""), ("x", "/i.png")]
    assert vecs.shape == (3, 4)


def test_memory_cache_reuses_across_tasks_and_keeps_sides_apart():
    cache = EmbeddingCache("m1")
    enc = WordEncoder()
    evaluate_task(colour_rows("a"), enc, cache)
    n_first = len(enc.encoded())
    evaluate_task(colour_rows("b"), enc, cache)  # same items, another task
    assert len(enc.encoded()) == n_first == 7
    assert cache.hits == 7 and cache.misses == 7
    enc.calls.clear()
    cache.encode([Item("the colour red")], "query", enc)  # seen only as a target so far
    assert len(enc.encoded("query")) == 1


def test_disk_cache_roundtrip_identity_and_corruption(tmp_path):
    enc = WordEncoder()
    first = EmbeddingCache("model-A;direct", tmp_path)
    evaluate_task(colour_rows(), enc, first)
    npz = first.save("run__toy")
    assert npz.exists() and npz.with_name("run__toy.keys.json").exists()

    again, enc2 = EmbeddingCache("model-A;direct", tmp_path), WordEncoder()
    r = evaluate_task(colour_rows(), enc2, again)
    assert enc2.calls == [] and r.acc == 0.75  # everything came from disk

    other, enc3 = EmbeddingCache("model-B;direct", tmp_path), WordEncoder()
    evaluate_task(colour_rows(), enc3, other)
    assert len(enc3.encoded()) == 7  # another identity never sees A's vectors

    meta_path = npz.with_name("run__toy.keys.json")
    meta = json.loads(meta_path.read_text())
    meta["npz_sha256"] = "0" * 64  # as if the job died between the two writes
    meta_path.write_text(json.dumps(meta))
    assert len(EmbeddingCache("model-A;direct", tmp_path)) == 0


def test_rerun_rewrites_shard_with_everything_it_used(tmp_path):
    enc = WordEncoder()
    a = EmbeddingCache("m", tmp_path)
    evaluate_task(colour_rows(), enc, a)
    a.save("task_a")
    b = EmbeddingCache("m", tmp_path)  # task b reuses a's vectors from disk
    evaluate_task(colour_rows("b"), enc, b)
    b.save("task_b")
    for f in tmp_path.rglob("task_a.*"):
        f.unlink()
    c, enc_c = EmbeddingCache("m", tmp_path), WordEncoder()
    evaluate_task(colour_rows("b"), enc_c, c)
    assert enc_c.calls == []  # task_b's shard holds every vector it used, not only new ones
