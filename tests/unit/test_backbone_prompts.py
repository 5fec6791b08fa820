"""Prompt-robust captioning (issue 12 item 1): varied prompts, and the multi-prompt probe."""

from __future__ import annotations

import random

import pytest
import torch

from rge.backbone import caption, probe
from rge.data.records import IMAGE_TOKEN
from rge.data.scenes import COLORS, SHAPES, describe_scene, sample_scene


def test_varied_prompt_is_seeded_and_spans_lengths_both_ways():
    a = [caption.varied_prompt(random.Random(3)) for _ in range(3)]
    assert a[0] == a[1] == a[2]
    rng = random.Random(0)
    drawn = [caption.varied_prompt(rng) for _ in range(600)]
    words = [len(p.split()) for p in drawn]
    n_caption = len(caption.CAPTION_PROMPT.split())
    assert min(words) <= 3 and max(words) >= n_caption + 12
    assert sum(w < n_caption for w in words) > 100 and sum(w > n_caption for w in words) > 100
    assert any("\n" in p for p in drawn) and any("\n" not in p for p in drawn)
    assert all(IMAGE_TOKEN not in p for p in drawn)
    for instruction in caption.INSTRUCTIONS:  # every wording is used
        assert any(instruction in p for p in drawn)
    # about a third name an object in words (instructions and fillers never do)
    objects = set(COLORS) | set(SHAPES)
    assert not objects & {w.strip(".,?") for t in caption.INSTRUCTIONS for w in t.split()}
    assert not objects & set(caption.FILLER_WORDS)
    named = [p for p in drawn if objects & {w.strip(".,?") for w in p.split()}]
    assert 0.25 < len(named) / len(drawn) < 0.42


def _capture_prompts(monkeypatch):
    seen = []
    real = caption.build_batch

    def spy(processor, items, responses=None, **kw):
        seen.extend(it.text for it in items)
        return real(processor, items, responses, **kw)

    monkeypatch.setattr(caption, "build_batch", spy)
    return seen


@pytest.mark.parametrize("vary", [True, False])
def test_caption_pretrain_prompts(monkeypatch, vary):
    from tests.fixtures.tiny_model import small_model

    model, proc = small_model()
    seen = _capture_prompts(monkeypatch)
    kw = {"lr_vision": 1e-3, "lr_lm": 1e-3, "batch_size": 4, "warmup_steps": 1}
    caption.caption_pretrain(model, proc, steps=3, min_lr_ratio=0.1, seed=5, vary_prompt=vary, **kw)
    assert len(seen) == 12 and all(t.startswith(IMAGE_TOKEN) for t in seen)
    if vary:
        rng = random.Random("5:caption-prompt")
        assert seen == [f"{IMAGE_TOKEN} {caption.varied_prompt(rng)}" for _ in range(12)]
        assert len(set(seen)) > 6
    else:
        assert set(seen) == {f"{IMAGE_TOKEN} {caption.CAPTION_PROMPT}"}


def test_caption_pretrain_with_questions_answers_after_the_description(monkeypatch):
    from tests.fixtures.tiny_model import small_model

    model, proc = small_model()
    real, responses = caption.build_batch, []

    def spy(processor, items, resp=None, **kw):
        responses.extend(zip((it.text for it in items), resp, strict=True))
        return real(processor, items, resp, **kw)

    monkeypatch.setattr(caption, "build_batch", spy)
    kw = {"lr_vision": 1e-3, "lr_lm": 1e-3, "batch_size": 8, "warmup_steps": 1}
    stats = caption.caption_pretrain(
        model, proc, steps=4, min_lr_ratio=0.1, seed=5, vary_prompt=True, question_share=0.5, **kw
    )
    assert stats["question_share"] == 0.5
    asked = [
        (t, r) for t, r in responses if "?" in t and not any(i in t for i in caption.INSTRUCTIONS)
    ]
    assert 4 <= len(asked) <= 28  # about half of 32
    for _, resp in responses:  # every response opens with the description
        assert resp.startswith("left is ") and resp.count(" .") >= 1
    assert all(r.count(" .") == 2 for _, r in asked)  # a question's answer follows it


def test_caption_example_questions_by_hand():
    scene = {
        "left": {"color": "red", "shape": "circle"},
        "right": {"color": "blue", "shape": "circle"},
        "bg": 0,
    }
    seen = {}
    rng = random.Random(0)
    for _ in range(300):
        prompt, resp = caption.caption_example(
            rng, scene, vary_prompt=True, question_share=1.0, prompt=caption.CAPTION_PROMPT
        )
        assert resp.startswith("left is red circle , right is blue circle . ")
        seen[resp.split(" . ", 1)[1]] = prompt
    answers = set(seen)
    # both sides asked; the shape is shared, so no "which colour does the circle have"
    assert (
        "the red circle is on the left ." in answers
        and "the blue circle is on the right ." in answers
    )
    assert "on the right the colour is blue ." in answers and "the red one is a circle ." in answers
    assert not any(a.startswith("the circle is") for a in answers)
    # share 0 draws exactly what varied_prompt draws (the recipe before questions)
    a, b = random.Random(1), random.Random(1)
    for _ in range(50):
        got = caption.caption_example(a, scene, vary_prompt=True, question_share=0.0, prompt="x")
        assert got == (caption.varied_prompt(b), "left is red circle , right is blue circle .")


def _fake_generate(good_prompts):
    """A generate() that describes the scene right iff the item's text is in ``good_prompts``;
    the scene is recovered from the image the probe rendered."""
    calls = []

    def fake(model, processor, items, *, max_new_tokens, load_image, generation=None):
        out = []
        for it in items:
            calls.append((it.text, it.image is not None, generation))
            if it.image is None:  # text only: right iff the text is good (nothing to look at)
                out.append(_TEXT_SCENES[it.text] if it.text in good_prompts else _WRONG)
                continue
            scene = _SCENES_BY_IMAGE[load_image(it.image).tobytes()]
            out.append(describe_scene(scene) if it.text in good_prompts else _WRONG)
        return out

    return fake, calls


_SCENES_BY_IMAGE: dict = {}
_TEXT_SCENES: dict = {}
_WRONG = "left is red circle , right is red circle ."  # two objects never share a colour


def _register(scenes):
    from rge.data.scenes import render_scene

    for s in scenes:
        _SCENES_BY_IMAGE[render_scene(s, 112).tobytes()] = s


def test_prompt_probe_scores_each_prompt_and_gates_on_the_in_domain_minimum(monkeypatch):
    rng = random.Random(11)
    pool = [sample_scene(rng) for _ in range(12)]
    rows = [(f"{IMAGE_TOKEN}\nrow {i}\n", sample_scene(rng)) for i in range(8)]
    _register(pool + [s for _, s in rows])
    good = {f"{IMAGE_TOKEN} good", f"{IMAGE_TOKEN} also good", rows[0][0], rows[1][0]}
    fake, calls = _fake_generate(good)
    monkeypatch.setattr(probe, "generate", fake)
    prompts = {
        "a": "good",
        "b": ["good", "bad"],  # alternates over the 10 scenes: 5 right
        "c": "bad",
        "rows": rows,  # 4 of the 8 rows sampled; how many of rows 0 and 1 depends on the seed
    }
    out = probe.prompt_probe(
        torch.nn.Identity(), None, prompts, in_domain=["a", "b"], n_scenes=10, seed=2,
        batch_size=3, pool=pool,
    )  # fmt: skip
    p = out["prompts"]
    assert p["a"]["all_correct"] == 1.0 and p["a"]["accuracy"]["right_shape"] == 1.0
    assert p["b"]["all_correct"] == 0.5 and p["c"]["all_correct"] == 0.0
    # _WRONG: left colour right exactly where the scene's left object is red
    sampled = random.Random(2).sample(pool, 10)
    red = sum(s["left"]["color"] == "red" for s in sampled) / 10
    assert p["c"]["accuracy"]["left_color"] == pytest.approx(red)
    picked = random.Random("2:rows").sample(rows, 8)
    assert p["rows"]["n_scenes"] == 8
    assert p["rows"]["all_correct"] == pytest.approx(2 / 8)
    assert [t for t, _, _ in calls if "row" in t] == [t for t, _ in picked]  # marker kept as given
    assert (out["min_in_domain"], out["min_in_domain_prompt"]) == (0.5, "b")
    assert out["in_domain"] == ["a", "b"]


def test_prompt_probe_rejects_bad_arguments():
    with pytest.raises(ValueError, match="in_domain"):
        probe.prompt_probe(None, None, {"a": "x"}, in_domain=["z"], n_scenes=1, seed=0)
    with pytest.raises(ValueError, match="in_domain"):
        probe.prompt_probe(None, None, {"a": "x"}, in_domain=[], n_scenes=1, seed=0)
    with pytest.raises(ValueError, match="empty"):
        probe.prompt_probe(
            torch.nn.Identity(), None, {"a": []}, in_domain=["a"], n_scenes=1, seed=0
        )


def test_length_prompts_are_outside_the_pretraining_pool():
    words = sorted(len(p.split()) for p in probe.LENGTH_PROMPTS.values())
    assert len(words) >= 3 and words[0] < 11 < words[-1]
    assert not set(probe.LENGTH_PROMPTS.values()) & set(caption.INSTRUCTIONS)


def test_prompt_probe_shows_text_only_queries_no_image_and_passes_the_generation(monkeypatch):
    from rge.model.generation import GenerationSettings

    rng = random.Random(4)
    scenes = [sample_scene(rng) for _ in range(6)]
    rows = [(f"caption {i}: {describe_scene(s)}\n", s) for i, s in enumerate(scenes)]
    _TEXT_SCENES.update({t: describe_scene(s) for t, s in rows})
    _register(scenes)
    good = {rows[0][0], rows[1][0], rows[2][0], f"{IMAGE_TOKEN} good"}
    fake, calls = _fake_generate(good)
    monkeypatch.setattr(probe, "generate", fake)
    settings = GenerationSettings(engine="static")
    out = probe.prompt_probe(
        torch.nn.Identity(), None, {"img": "good", "text": rows}, in_domain=["img"],
        n_scenes=6, seed=0, batch_size=4, pool=scenes, generation=settings,
    )  # fmt: skip
    assert out["prompts"]["text"]["all_correct"] == pytest.approx(3 / 6)
    assert out["prompts"]["img"]["all_correct"] == 1.0 and out["min_in_domain"] == 1.0
    assert {g for _, _, g in calls} == {settings}
    # a query without the image marker is shown no image; an instruction prompt follows one
    assert {(t, shown) for t, shown, _ in calls} == {
        (f"{IMAGE_TOKEN} good", True),
        *((t, False) for t, _ in rows),
    }
