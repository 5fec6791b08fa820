"""Oracle prompt templates: coverage of every configured subset, wording rules, rendering."""

import hashlib
from pathlib import Path

import pytest
import yaml

from rge.data.records import Item, TrainPair
from rge.rationale.checks import forbidden_hits
from rge.rationale.prompts import MATCH_IMAGE, QUERY_IMAGE, load_prompts, render_prompt

ROOT = Path(__file__).resolve().parents[2]
PROMPTS = ROOT / "config" / "prompts" / "oracle.yaml"
CONFIGS = ("config.yaml", "smoke.yaml", "paper.yaml")


@pytest.fixture(scope="module")
def book():
    return load_prompts(PROMPTS)


def _train_subsets(name: str) -> list[str]:
    return yaml.safe_load((ROOT / "config" / name).read_text())["tasks"]["train"]


@pytest.mark.parametrize("config", CONFIGS)
def test_every_training_subset_of_every_config_has_a_template(book, config):
    subsets = _train_subsets(config)
    assert subsets, config
    missing = [s for s in subsets if s not in book.subsets]
    assert missing == []


def test_paper_has_20_subsets_over_several_templates(book):
    subsets = _train_subsets("paper.yaml")
    assert len(subsets) == 20
    used = {book.subsets[s] for s in subsets}
    # grouped by form, but not one template for everything: each meta-task has its own
    assert {book.templates[t].meta_task for t in used} == {
        "classification",
        "vqa",
        "retrieval",
        "grounding",
    }
    assert 8 <= len(used) < 20


def test_no_template_text_contains_a_forbidden_phrase(book):
    raw = yaml.safe_load(PROMPTS.read_text())
    texts = [raw["layout"], *raw["roles"].values(), *raw["slots"].values()]
    for t in raw["templates"]:
        texts += [t["task"], *t["example"].values()]
    # the rules mention the forbidden phrases only through the {forbidden} placeholder
    texts.append(raw["rules"].replace("{forbidden}", ""))
    hits = {text[:60]: forbidden_hits(text, book.forbidden_phrases) for text in texts}
    assert {k: v for k, v in hits.items() if v} == {}
    assert "{forbidden}" in raw["rules"]


def test_forbidden_list_and_word_limit_reach_the_prompt(book):
    t = book.templates["vqa-natural.v1"]
    assert "at most 50 words" in t.text
    for phrase in book.forbidden_phrases:
        assert f'"{phrase}"' in t.text
    # outside the one rule that lists them, the phrases occur nowhere
    rest = t.text.split("Do not use any of these words")[0]
    assert forbidden_hits(rest, book.forbidden_phrases) == []


def test_templates_have_the_four_sections_and_a_distinct_id(book):
    assert book.version >= 1
    for t in book.templates.values():
        assert t.text.count("Worked example") == 1 and "Your job:" in t.text
        assert t.text.rstrip().endswith("Reasoning:")
    assert len({t.hash for t in book.templates.values()}) == len(book.templates)


def _pair(subset, q_image="/img/q.png", p_text="blue", p_image=None):
    return TrainPair(
        f"{subset}/3",
        subset,
        Item("<|image_1|>\nLook at the image and answer: What colour is it? {match_text}", q_image),
        Item(p_text, p_image),
    )


def test_render_image_and_text_query_with_text_match(book):
    r = render_prompt(book, "SynColorQA", _pair("SynColorQA"))
    assert r.prompt_id == "vqa-natural.v1"
    assert r.images == ("/img/q.png",)
    parts = r.messages[0]["content"]
    assert r.messages[0]["role"] == "user"
    assert [p["type"] for p in parts] == ["text", "image", "text"]
    text = r.text
    assert "Query text: Look at the image and answer: What colour is it? {match_text}" in text
    assert "<|image_1|>" not in text  # the MMEB marker became an image part
    assert "Matching text (for checking only): blue" in text
    assert QUERY_IMAGE not in text and MATCH_IMAGE not in text


def test_prompt_hash_is_sha256_of_the_template_text_and_row_independent(book):
    a = render_prompt(book, "SynColorQA", _pair("SynColorQA", p_text="red"))
    b = render_prompt(book, "OK-VQA", _pair("OK-VQA", p_text="green"))
    t = book.templates["vqa-natural.v1"]
    assert a.prompt_hash == b.prompt_hash == hashlib.sha256(t.text.encode()).hexdigest()
    assert a.text != b.text


def test_render_text_query_with_image_match(book):
    pair = TrainPair(
        "MSCOCO_t2i/0",
        "MSCOCO_t2i",
        Item("Find an image for: a cat on a mat", None),
        Item("<|image_1|>\nRepresent the given image.", "/img/cat.png"),
    )
    r = render_prompt(book, "MSCOCO_t2i", pair)
    assert r.images == ("/img/cat.png",)
    assert "Represent the given image" not in r.text  # image-only match: its text is boilerplate
    assert "Query image" not in r.text.split("Now the real case")[1]


def test_render_composed_query_has_two_images_in_order(book):
    pair = TrainPair(
        "CIRR/1", "CIRR", Item("<|image_1|>\nmake it red", "/q.png"), Item("x", "/p.png")
    )
    r = render_prompt(book, "CIRR", pair)
    assert r.images == ("/q.png", "/p.png")
    kinds = [p["type"] for p in r.messages[0]["content"]]
    assert kinds.count("image") == 2


def test_render_errors_name_subset_and_row(book):
    with pytest.raises(KeyError, match="NoSuchSubset"):
        render_prompt(book, "NoSuchSubset", _pair("NoSuchSubset"))
    with pytest.raises(ValueError, match="SynColorQA/3"):
        render_prompt(book, "SynColorQA", _pair("SynColorQA", q_image=None))


def test_load_rejects_unknown_template_id(tmp_path):
    raw = yaml.safe_load(PROMPTS.read_text())
    raw["subsets"]["Foo"] = "nope.v1"
    bad = tmp_path / "p.yaml"
    bad.write_text(yaml.safe_dump(raw))
    with pytest.raises(ValueError, match="nope.v1"):
        load_prompts(bad)


def test_editing_wording_changes_the_hash(tmp_path, book):
    raw = yaml.safe_load(PROMPTS.read_text())
    raw["templates"][0]["task"] += " Be brief."
    path = tmp_path / "p.yaml"
    path.write_text(yaml.safe_dump(raw))
    edited = load_prompts(path)
    first = raw["templates"][0]["id"]
    assert edited.templates[first].hash != book.templates[first].hash
    others = [t for t in book.templates if t != first]
    assert all(edited.templates[t].hash == book.templates[t].hash for t in others)
