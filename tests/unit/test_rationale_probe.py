"""Rationale probe: description / answer correctness against the scene sidecar, P@1 split."""

from __future__ import annotations

import json

import pytest

from rge.data.synthetic import SYNTHETIC_TASKS, read_sidecar, write_benchmark
from rge.evaluate import rationale_probe as rp
from rge.rationale.scene import scene_rationale

SCENE = {
    "left": {"color": "red", "shape": "circle", "dx": 0, "dy": 0, "size": 28},
    "right": {"color": "blue", "shape": "cross", "dx": 0, "dy": 0, "size": 28},
    "bg": 0,
}
DESC = "left is red circle , right is blue cross ."


def _rec(kind: str, target_text: str = "", **fact) -> dict:
    return {
        "key": "T/0",
        "scene": SCENE,
        "fact": {"kind": kind, **fact},
        "target_text": target_text,
    }


@pytest.fixture(scope="module")
def benchmark(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn")
    write_benchmark(out, seed=3, train_rows=2, eval_rows=12, num_candidates=4, retrieval_images=8)
    return out


def test_oracle_rationales_score_right_on_every_task(benchmark):
    for task in SYNTHETIC_TASKS:
        side = read_sidecar(benchmark / "scenes" / "eval" / f"{task}.jsonl")
        records = [
            {"key": k, "side": "query", "rationale": scene_rationale(r, seed=0)}
            for k, r in side.items()
        ]
        out = rp.rationale_probe(records, side)
        assert (out["description_correct"], out["answer_correct"]) == (1.0, 1.0), task
        assert out["n_queries"] == 12


@pytest.mark.parametrize(
    ("rec", "rationale", "expected"),
    [
        (_rec("classify", "red circle", side="left"), f"{DESC} on the left is the red circle .", (True, True)),
        # the answer must be stated after the description, not only inside it
        (_rec("classify", "red circle", side="left"), DESC, (True, False)),
        (_rec("classify", "red circle", side="left"), f"{DESC} on the left is the blue cross .", (True, False)),
        (_rec("classify", "red circle", side="left"),
         "left is blue cross , right is red circle . on the left is the red circle .", (False, True)),
        (_rec("color_of", "blue", side="right", ref="next_to"),
         f"{DESC} the object next to the red one is blue .", (True, True)),
        (_rec("color_of", "blue", side="right", ref="next_to"),
         f"{DESC} the object next to the blue one is red .", (True, False)),
        # the colour the rationale ends on is its answer, not any colour it names on the way
        (_rec("color_of", "blue", side="right", ref="next_to"),
         f"{DESC} the red one is on the left , next to it on the right is blue .",
         (True, True)),
        (_rec("color_of", "blue", side="right", ref="shape"),
         f"{DESC} the cross is on the right , so it is red .", (True, False)),
        (_rec("shape_of", "cross", side="right"), f"{DESC} the blue object is a crosswalk .", (True, False)),
        (_rec("describe"), f"{DESC} the caption should say the red circle is left of the blue cross .", (True, True)),
        (_rec("describe"), f"{DESC} the caption should say the blue cross is left of the red circle .", (True, False)),
        (_rec("locate", side="left"), f"{DESC} red circle : left yes , right no , so the crop shows the left object .", (True, True)),
        (_rec("locate", side="left"), f"{DESC} red circle : left no , right yes , so the crop shows the right object .", (True, False)),
        (_rec("refer", side="right", expression="the blue object"),
         f"{DESC} the phrase points to the right object , the blue cross .", (True, True)),
        (_rec("refer", side="right", expression="the blue object"),
         f"{DESC} the phrase points to the right object , the red circle .", (True, False)),
        (_rec("modify", target_scene={**SCENE, "left": {**SCENE["left"], "color": "green"}}),
         f"{DESC} after the edit left is green circle , right is blue cross .", (True, True)),
        (_rec("modify", target_scene={**SCENE, "left": {**SCENE["left"], "color": "green"}}),
         f"{DESC} after the edit left is red circle , right is blue cross .", (True, False)),
        (_rec("classify", "red circle", side="left"), "", (False, False)),
    ],
)  # fmt: skip
def test_score_rationale_by_hand(rec, rationale, expected):
    got = rp.score_rationale(rationale, rec)
    assert (got["description"], got["answer"]) == expected


def test_bad_sidecar_row_is_named():
    with pytest.raises(ValueError, match="'T/0'"):
        rp.score_rationale(DESC, _rec("dance"))
    with pytest.raises(ValueError, match="'R/1'"):
        rp.score_rationale(DESC, {"key": "R/1", "scene": SCENE})


def test_p_at_1_split_by_rationale():
    side = {
        f"T/{i}": {**_rec("classify", "red circle", side="left"), "key": f"T/{i}"} for i in range(5)
    }
    right = f"{DESC} on the left is the red circle ."
    wrong_answer = f"{DESC} on the left is the blue cross ."
    texts = [right, right, wrong_answer, wrong_answer, "nothing"]
    records = [{"key": f"T/{i}", "side": "query", "rationale": t} for i, t in enumerate(texts)]
    records.append({"key": "T/0/1", "side": "target", "rationale": "ignored"})
    correct = {"T/0": True, "T/1": False, "T/2": True, "T/3": True, "T/4": False}
    out = rp.rationale_probe(records, side, correct)
    assert out["description_correct"] == 0.8 and out["answer_correct"] == 0.4
    assert out["p_at_1"] == 0.6
    assert (out["p_at_1_answer_right"], out["n_answer_right"]) == (0.5, 2)
    assert out["p_at_1_answer_wrong"] == pytest.approx(2 / 3) and out["n_answer_wrong"] == 3
    assert (out["p_at_1_description_right"], out["p_at_1_description_wrong"]) == (0.75, 0.0)
    assert out["rows"]["T/2"] == {"description": True, "answer": False}
    with pytest.raises(ValueError, match="T/4"):
        rp.rationale_probe(records, side, {k: v for k, v in correct.items() if k != "T/4"})


def test_deduplicated_rows_are_found_by_text_and_image():
    q = "<|image_1|>\nIdentify the object on the left of the image.\n"
    side = {
        f"T/{i}": {**_rec("classify", "red circle", side="left"), "key": f"T/{i}",
                   "qry_image_path": "T/scene_ab.png"}
        for i in range(2)
    }  # fmt: skip
    records = [{"key": "T/0", "side": "query", "text": q, "image": "/data/x/T/scene_ab.png",
                "rationale": f"{DESC} on the left is the red circle ."}]  # fmt: skip
    out = rp.rationale_probe(records, side, query_texts={"T/0": q, "T/1": q})
    assert out["answer_correct"] == 1.0 and set(out["rows"]) == {"T/0", "T/1"}
    with pytest.raises(ValueError, match="'T/1'.*query_texts"):
        rp.rationale_probe(records, side)


def test_readers_name_the_bad_row(tmp_path):
    good = {"key": "T/0", "side": "query", "rationale": "r", "n_tokens": 1, "forced": False}
    path = tmp_path / "T.rationales.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({"key": "T/1"}) + "\n")
    with pytest.raises(ValueError, match=r"T.rationales.jsonl: row 1 lacks \['side'"):
        rp.read_rationales(path)
    preds = tmp_path / "T.predictions.jsonl"
    preds.write_text('{"key": "T/0", "correct": true}\n{"key": "T/1", "correct": false}\n')
    assert rp.read_correctness(preds) == {"T/0": True, "T/1": False}
    preds.write_text('{"key": "T/0"}\n')
    with pytest.raises(ValueError, match="row 0"):
        rp.read_correctness(preds)


def test_probe_training_scores_the_last_steps_against_the_training_sidecar(benchmark):
    side = read_sidecar(benchmark / "scenes" / "train" / "SynColorQA.jsonl")
    (k0, r0), (k1, r1) = list(side.items())[:2]
    right0, right1 = scene_rationale(r0, seed=0), scene_rationale(r1, seed=0)
    wrong = "left is red circle , right is red circle . nothing ."
    rows = [
        {"step": 1, "subset": "SynColorQA", "self_rationales": [[k0, wrong], [k1, wrong]]},
        {"step": 2, "subset": "SynColorQA", "lm": 0.1},  # a row without rationales is skipped
        {"step": 3, "subset": "SynColorQA", "self_rationales": [[k0, right0], [k1, wrong]]},
        {"step": 4, "subset": "SynColorQA", "self_rationales": [[k0, right0], [k1, right1]]},
    ]
    out = rp.probe_training(rows, benchmark, window=2)
    assert out["steps"] == [3, 4] and out["n_rationales"] == 4
    assert out["subsets"]["SynColorQA"] == {
        "n": 4,
        "description_correct": 0.75,
        "answer_correct": 0.75,
    }
    assert out["answer_correct"] == 0.75
    assert rp.probe_training(rows[1:2], benchmark)["answer_correct"] is None
    bad = [{"step": 9, "subset": "SynColorQA", "self_rationales": [["SynColorQA/x", wrong]]}]
    with pytest.raises(ValueError, match="step 9: pair 'SynColorQA/x'"):
        rp.probe_training(bad, benchmark)
