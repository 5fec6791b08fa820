"""The library's outputs equal the stored golden values (regenerate: python -m tests.golden.regenerate)."""

from __future__ import annotations

import json

import pytest

from tests.golden import golden

REGEN = "if the change is intended, run `python -m tests.golden.regenerate` and review the diff"


def _load(path):
    return json.loads(path.read_text())


def test_synthetic_benchmark_hashes_match():
    stored = _load(golden.SYNTHETIC)
    assert stored["sizes"] == golden.smoke_sizes(), f"config/smoke.yaml sizes changed; {REGEN}"
    now = golden.synthetic_hashes()
    changed = sorted(k for k in stored["files"].keys() | now["files"].keys()
                     if stored["files"].get(k) != now["files"].get(k))  # fmt: skip
    assert not changed, f"synthetic benchmark files differ: {changed}; {REGEN}"


def test_synthetic_hashes_do_not_depend_on_the_output_folder(tmp_path):
    from rge.data.synthetic import write_benchmark

    sizes = {**golden.smoke_sizes(), "train_rows": 4, "eval_rows": 3, "retrieval_images": 2}
    write_benchmark(tmp_path / "a", **sizes)
    write_benchmark(tmp_path / "deeper" / "b", **sizes)
    assert golden.tree_digests(tmp_path / "a") == golden.tree_digests(tmp_path / "deeper" / "b")


def test_tiny_tokenizer_vocabulary_matches():
    assert golden.tokenizer_digest() == _load(golden.TOKENIZER), REGEN


def test_embedding_scores_match():
    stored = _load(golden.SCORES)
    assert golden.embedding_scores(stored["inputs"]) == stored["expected"], REGEN


def test_stored_scores_exercise_ties_and_misses():
    # The golden is only informative if it holds right, wrong and exactly tied rows.
    preds = _load(golden.SCORES)["expected"]["mmeb"]["preds"]
    assert 0 in preds and any(p > 0 for p in preds)
    rows = _load(golden.SCORES)["inputs"]["mmeb"]["rows"]
    vectors = _load(golden.SCORES)["inputs"]["vectors"]
    assert any(
        vectors[r["candidates"][0]] in [vectors[c] for c in r["candidates"][1:]] for r in rows
    )


def test_rendered_table_matches():
    md, csv_text = golden.rendered_table(_load(golden.TABLE_INPUTS))
    assert md == golden.TABLE_MD.read_text(), REGEN
    assert csv_text == golden.TABLE_CSV.read_text(), REGEN


@pytest.mark.parametrize(
    "path", ["SYNTHETIC", "TOKENIZER", "SCORES", "TABLE_INPUTS", "TABLE_MD", "TABLE_CSV"]
)
def test_golden_files_are_committed(path):
    assert getattr(golden, path).is_file(), f"{getattr(golden, path)} missing; {REGEN}"


def test_smoke_tolerance_is_three_times_the_thread_difference_with_a_floor():
    from tests.golden import smoke

    one = {"loss": {"rge/final_loss": 1.0}, "score": {"mmeb/rge/direct": 0.50}}
    two = {"loss": {"rge/final_loss": 1.001}, "score": {"mmeb/rge/direct": 0.50}}
    tol = smoke.calibrate(one, two)
    assert tol["loss"] == pytest.approx(0.003)  # 3 x 0.001
    assert tol["score"] == smoke.FLOOR["score"]  # identical scores: the floor
    with pytest.raises(ValueError, match="score names"):
        smoke.calibrate(one, {**two, "score": {}})


def test_smoke_mismatches_name_what_moved():
    from tests.golden import smoke

    stored = {
        "metrics": {"loss": {"a": 1.0}, "score": {"s": 0.5}},
        "tolerance": {"loss": 0.01, "score": 0.02},
    }
    assert smoke.mismatches(stored, {"loss": {"a": 1.009}, "score": {"s": 0.51}}) == []
    bad = smoke.mismatches(stored, {"loss": {"a": 1.02}, "score": {"t": 0.5}})
    assert bad == [
        "loss a: 1.02 vs golden 1 (±0.01)",
        "score s: only in golden",
        "score t: only in this run",
    ]
