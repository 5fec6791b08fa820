"""The scene backend: facts-file rationales from the synthetic benchmark's sidecar."""

import pytest

from rge.data.records import Item, TrainPair
from rge.data.scenes import COLORS, describe_scene, parse_description, scene_attributes
from rge.data.synthetic import read_sidecar, write_benchmark
from rge.io import write_jsonl
from rge.rationale.backend import OracleRequest, RationaleBackend
from rge.rationale.prompts import RenderedPrompt
from rge.rationale.scene import SceneBackend, scene_rationale

TRAIN = ["SynObjects", "SynColorQA", "SynCOCO_t2i", "SynCOCO_i2t", "SynNews_t2i", "SynGround"]
SCENE = {
    "left": {"color": "blue", "shape": "circle", "dx": 0, "dy": 0, "size": 28},
    "right": {"color": "red", "shape": "cross", "dx": 0, "dy": 0, "size": 28},
    "bg": 0,
}


@pytest.fixture(scope="module")
def sidecars(tmp_path_factory):
    out = tmp_path_factory.mktemp("syn")
    write_benchmark(
        out,
        seed=5,
        train_rows=30,
        eval_rows=2,
        num_candidates=2,
        retrieval_images=2,
        image_size=56,
        tasks=TRAIN + ["SynCIRR", "SynShapeQA", "SynRefGround"],
    )
    train = {s: read_sidecar(out / "scenes" / "train" / f"{s}.jsonl") for s in TRAIN}
    evals = {
        s: read_sidecar(out / "scenes" / "eval" / f"{s}.jsonl")
        for s in ("SynCIRR", "SynShapeQA", "SynRefGround")
    }
    return train, evals


def _rec(kind, target_text, **fact):
    return {
        "key": "T/0",
        "scene": SCENE,
        "fact": {"kind": kind, **fact},
        "target_text": target_text,
    }


def test_colour_qa_next_to_reads_like_a_facts_file():
    text = scene_rationale(_rec("color_of", "blue", ref="next_to", side="left"), seed=0)
    # the description, the named colour with each side checked against it, the side beside
    # the match and its colour
    assert text == (
        "left is blue circle , right is red cross . "
        "red : left no , right yes , the one next to it is on the left and is blue ."
    )


@pytest.mark.parametrize(
    ("rec", "asked"),
    [
        (_rec("classify", "red cross", side="right"), "right"),
        (_rec("color_of", "red", ref="shape", side="right"), "cross"),
        (_rec("color_of", "blue", ref="left", side="left"), "left"),
        (_rec("shape_of", "cross", side="right"), "red"),
        (_rec("locate", "x", side="left"), "blue circle : left yes , right no"),
        (_rec("refer", "x", form="color", side="right", expression="the red object"), "red object"),
    ],
)
def test_each_fact_kind_names_what_the_query_asks_and_is_not_the_bare_answer(rec, asked):
    text = scene_rationale(rec, seed=1)
    assert describe_scene(SCENE) in text
    assert asked in text.replace(describe_scene(SCENE), "")  # the repeated name counts
    assert text.strip() != rec["target_text"]


def test_every_training_row_gets_a_parsable_scene_description(sidecars):
    train, _ = sidecars
    for subset, side in train.items():
        for key, rec in side.items():
            text = scene_rationale(rec, seed=0)
            assert parse_description(text) == scene_attributes(rec["scene"]), key
            assert 10 <= len(text.split()) <= 32, (key, text)  # < the 40-token budget
            assert text != rec["target_text"], subset


def test_answers_in_rationales_match_the_stored_answers(sidecars):
    train, _ = sidecars
    for rec in train["SynColorQA"].values():
        text = scene_rationale(rec, seed=0)
        clause = text.split(describe_scene(rec["scene"]), 1)[1].split()  # after the description
        assert [w for w in clause if w in COLORS][-1] == rec["target_text"]  # ends on the answer
        # only next_to names the other object's colour (the name it checks against)
        other = rec["scene"]["right" if rec["fact"]["side"] == "left" else "left"]["color"]
        assert (other in clause) == (rec["fact"]["ref"] == "next_to")
    for rec in train["SynObjects"].values():
        assert rec["target_text"] in scene_rationale(rec, seed=0).split(" . ", 1)[1]


def test_eval_only_kinds_are_supported_too(sidecars):
    _, evals = sidecars
    for side in evals.values():
        for rec in side.values():
            assert describe_scene(rec["scene"]) in scene_rationale(rec, seed=0)
    rec = next(iter(evals["SynCIRR"].values()))
    assert describe_scene(rec["fact"]["target_scene"]) in scene_rationale(rec, seed=0)


def test_same_seed_same_text_and_phrasing_varies_with_the_seed(sidecars):
    train, _ = sidecars
    recs = list(train["SynColorQA"].values())
    a = [scene_rationale(r, seed=3) for r in recs]
    assert a == [scene_rationale(r, seed=3) for r in recs]
    b = [scene_rationale(r, seed=4) for r in recs]
    assert a != b
    assert all(x.split(" . ")[0] == y.split(" . ")[0] for x, y in zip(a, b, strict=True))


def test_a_sidecar_whose_answer_disagrees_with_its_scene_raises():
    with pytest.raises(ValueError, match="T/0"):
        scene_rationale(_rec("color_of", "green", ref="left", side="left"), seed=0)
    with pytest.raises(ValueError, match="T/0"):
        scene_rationale(_rec("juggle", "x"), seed=0)


def test_backend_follows_the_protocol_and_request_order(tmp_path, sidecars):
    train, _ = sidecars
    path = tmp_path / "scenes"
    src = next(iter(train["SynObjects"].values()))
    write_jsonl(path / "SynObjects.jsonl", list(train["SynObjects"].values()))
    backend = SceneBackend.from_path(path, "SynObjects", seed=0)
    assert isinstance(backend, RationaleBackend) and backend.name == "scene"
    prompt = RenderedPrompt([], (), "cls-image.v1", "h")
    keys = ["SynObjects/4", "SynObjects/1", src["key"]]
    reqs = [OracleRequest(TrainPair(k, "SynObjects", Item("q"), Item("p")), prompt) for k in keys]
    out = backend.generate(reqs)
    assert out == [scene_rationale(train["SynObjects"][k], 0) for k in keys]
    with pytest.raises(KeyError, match="SynObjects/999"):
        missing = TrainPair("SynObjects/999", "SynObjects", Item("q"), Item("p"))
        backend.generate([OracleRequest(missing, prompt)])
    with pytest.raises(FileNotFoundError, match="SynColorQA"):
        SceneBackend.from_path(path, "SynColorQA", seed=0)


def test_backend_reads_the_benchmark_root(tmp_path, sidecars):
    train, _ = sidecars
    root = tmp_path / "bench"
    write_jsonl(root / "scenes" / "train" / "SynObjects.jsonl", list(train["SynObjects"].values()))
    backend = SceneBackend.from_path(root, "SynObjects", seed=0)
    assert backend.sidecar == {r["key"]: r for r in train["SynObjects"].values()}
