"""The hf backend, for real, on a very small Qwen2.5-VL saved to disk and loaded back.

The model is random, so its text is gibberish: these tests check counts, order, batching,
determinism and that image rows and text-only rows can share a batch.
"""

import random
from pathlib import Path

import pytest

from rge.data.records import Item, TrainPair
from rge.data.scenes import render_scene, sample_scene
from rge.model.factory import save_pretrained
from rge.rationale.backend import OracleRequest, RationaleBackend
from rge.rationale.hf import HFBackend
from rge.rationale.prompts import load_prompts, render_prompt
from tests.fixtures.tiny_model import MAX_PIXELS, MIN_PIXELS, small_model

PROMPTS = Path(__file__).resolve().parents[2] / "config" / "prompts" / "oracle.yaml"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    model, processor = small_model(seed=3)
    out = tmp_path_factory.mktemp("oracle") / "model"
    save_pretrained(model, processor, out)
    return out


@pytest.fixture(scope="module")
def requests_():
    book = load_prompts(PROMPTS)
    rng = random.Random(1)
    images = {f"/img/{i}.png": render_scene(sample_scene(rng), 112) for i in range(4)}
    pairs = [
        TrainPair(
            "CIRR/0", "CIRR", Item("<|image_1|>\nmake it red", "/img/0.png"), Item("", "/img/1.png")
        ),
        TrainPair(
            "SynColorQA/1",
            "SynColorQA",
            Item("<|image_1|>\nWhat colour?", "/img/2.png"),
            Item("red"),
        ),
        TrainPair(
            "VisDial/2",
            "VisDial",
            Item("Dialog: Q: a dog? A: no."),
            Item("<|image_1|>", "/img/3.png"),
        ),
        TrainPair(
            "WebQA/3",
            "WebQA",
            Item("Which tower is this?"),
            Item("<|image_1|> Eiffel", "/img/0.png"),
        ),
        TrainPair(
            "SynColorQA/4",
            "SynColorQA",
            Item("<|image_1|>\nWhat colour?", "/img/1.png"),
            Item("blue"),
        ),
    ]
    return [OracleRequest(p, render_prompt(book, p.subset, p)) for p in pairs], images


def _backend(model_dir, images, **kw):
    return HFBackend.from_pretrained(
        model_dir,
        min_pixels=MIN_PIXELS,
        max_pixels=MAX_PIXELS,
        load_image=images.__getitem__,
        **kw,
    )


def test_greedy_generation_counts_order_and_batching(model_dir, requests_):
    reqs, images = requests_
    backend = _backend(model_dir, images, max_new_tokens=6, batch_size=3)
    assert isinstance(backend, RationaleBackend) and backend.name == "hf"
    assert backend.model == str(model_dir) and backend.revision is None
    assert backend.sampling == {
        "do_sample": False,
        "temperature": 0.0,
        "top_p": 1.0,
        "max_new_tokens": 6,
    }
    out = backend.generate(reqs)
    assert len(out) == len(reqs) and all(isinstance(t, str) for t in out)
    assert any(out)  # gibberish, but generated
    assert all(t == t.strip() and "<|im_end|>" not in t and "<emb>" not in t for t in out)
    # left padding: a row's greedy text does not depend on its batch mates
    alone = [backend.generate([r])[0] for r in reqs]
    assert alone == out
    assert backend.generate(reqs) == out


def test_sampling_is_seeded(model_dir, requests_):
    reqs, images = requests_
    a = _backend(model_dir, images, max_new_tokens=6, temperature=1.0, top_p=0.9, seed=5)
    assert a.sampling["do_sample"] is True
    first = a.generate(reqs[:3])
    assert a.generate(reqs[:3]) == first
    b = _backend(model_dir, images, max_new_tokens=6, temperature=1.0, top_p=0.9, seed=6)
    assert b.generate(reqs[:3]) != first


def test_bad_batch_size():
    with pytest.raises(ValueError, match="batch_size"):
        HFBackend(None, None, model_id="m", batch_size=0)
