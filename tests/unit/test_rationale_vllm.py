"""The vllm backend: engine arguments, prompts, images and sampling built without vLLM."""

import importlib.util
import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace

import pytest

from rge.data.records import Item, TrainPair
from rge.data.scenes import render_scene, sample_scene
from rge.rationale.backend import OracleRequest, RationaleBackend, row_seed
from rge.rationale.prompts import load_prompts, render_prompt
from rge.rationale.vllm_backend import VLLMBackend

PROMPTS = Path(__file__).resolve().parents[2] / "config" / "prompts" / "oracle.yaml"
VOCAB = {"<|im_end|>": 7, "<|endoftext|>": 8, "<|im_start|>": 9}


class FakeTokenizer:
    """ChatML like InternVL's template; knows three of the stop tokens."""

    def get_vocab(self):
        return dict(VOCAB)

    def convert_tokens_to_ids(self, token):
        return VOCAB[token]

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert tokenize is False and add_generation_prompt is True
        assert all(isinstance(m["content"], str) for m in messages)
        body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return body + "<|im_start|>assistant\n"


@dataclass
class FakeSampling:
    temperature: float
    top_p: float
    max_tokens: int
    stop: list | None
    stop_token_ids: list | None
    seed: int


class FakeLLM:
    """Records what it was built with and asked; answers with padded text per prompt."""

    built: list = []

    def __init__(self, **kwargs):
        self.kwargs, self.calls = kwargs, []
        FakeLLM.built.append(self)

    def get_tokenizer(self):
        return FakeTokenizer()

    def generate(self, inputs, sampling_params, use_tqdm=True):
        self.calls.append((inputs, sampling_params))
        return [
            SimpleNamespace(outputs=[SimpleNamespace(text=f"  answer {i} \n")])
            for i, _ in enumerate(inputs)
        ]


@pytest.fixture()
def requests_():
    book = load_prompts(PROMPTS)
    rng = random.Random(0)
    images = {f"/img/{i}.png": render_scene(sample_scene(rng), 56) for i in range(3)}
    pairs = [
        TrainPair(
            "CIRR/0", "CIRR", Item("<|image_1|>\nmake it red", "/img/0.png"), Item("", "/img/1.png")
        ),
        TrainPair(
            "OK-VQA/5", "OK-VQA", Item("<|image_1|>\nWhat is it?", "/img/2.png"), Item("a cat")
        ),
        TrainPair(
            "VisDial/1",
            "VisDial",
            Item("Dialog: Q: any dogs? A: no."),
            Item("<|image_1|>", "/img/1.png"),
        ),
    ]
    reqs = [OracleRequest(p, render_prompt(book, p.subset, p)) for p in pairs]
    return reqs, images


def _backend(images, **kw):
    FakeLLM.built.clear()
    return VLLMBackend(
        "OpenGVLab/InternVL3_5-38B",
        revision="abc123",
        tensor_parallel_size=4,
        max_model_len=6144,
        gpu_memory_utilization=0.85,
        seed=7,
        temperature=0.6,
        top_p=0.95,
        max_tokens=96,
        load_image=images.__getitem__,
        llm_cls=FakeLLM,
        sampling_cls=FakeSampling,
        **kw,
    )


def test_engine_is_built_lazily_with_the_configured_knobs(requests_):
    reqs, images = requests_
    backend = _backend(images, mm_processor_kwargs={"max_dynamic_patch": 6})
    assert isinstance(backend, RationaleBackend) and backend.name == "vllm"
    assert FakeLLM.built == []  # nothing built before the first generate
    backend.generate(reqs[:1])
    assert FakeLLM.built[0].kwargs == {
        "model": "OpenGVLab/InternVL3_5-38B",
        "revision": "abc123",
        "tensor_parallel_size": 4,
        "max_model_len": 6144,
        "gpu_memory_utilization": 0.85,
        "dtype": "bfloat16",
        "seed": 7,
        "trust_remote_code": True,
        "limit_mm_per_prompt": {"image": 2},
        "mm_processor_kwargs": {"max_dynamic_patch": 6},
    }
    backend.generate(reqs[1:])
    assert len(FakeLLM.built) == 1  # one engine for the whole job


def test_requests_carry_templated_prompts_and_images_in_order(requests_):
    reqs, images = requests_
    backend = _backend(images)
    out = backend.generate(reqs)
    assert out == ["answer 0", "answer 1", "answer 2"]
    inputs, params = FakeLLM.built[0].calls[0]
    composed, vqa, dialog = inputs
    assert composed["prompt"].startswith("<|im_start|>user\n")
    assert composed["prompt"].endswith("Reasoning:<|im_end|>\n<|im_start|>assistant\n")
    assert composed["prompt"].count("<image>") == 2
    assert "Query image: <image>" in composed["prompt"]
    assert composed["multi_modal_data"]["image"] == [images["/img/0.png"], images["/img/1.png"]]
    assert vqa["prompt"].count("<image>") == 1
    assert vqa["multi_modal_data"]["image"] is images["/img/2.png"]  # one image: not a list
    assert "Matching text (for checking only): a cat" in vqa["prompt"]
    assert dialog["prompt"].count("<image>") == 1 and "Query text: Dialog" in dialog["prompt"]
    assert reqs[0].prompt.prompt_id == "ret-composed.v1"


def test_sampling_params_per_row_seed_and_stop_tokens(requests_):
    reqs, images = requests_
    backend = _backend(images, stop=["\n\n"])
    backend.generate(reqs)
    _, params = FakeLLM.built[0].calls[0]
    assert len(params) == len(reqs)
    assert params[0] == FakeSampling(0.6, 0.95, 96, ["\n\n"], [7, 8, 9], row_seed(7, "CIRR/0"))
    assert len({p.seed for p in params}) == 3
    assert backend.sampling == {
        "temperature": 0.6,
        "top_p": 0.95,
        "max_tokens": 96,
        "stop": ["\n\n"],
        "stop_tokens": ["<|im_end|>", "<|endoftext|>", "<|im_start|>", "<|end|>"],
    }


def test_custom_placeholder_and_too_many_images(requests_):
    reqs, images = requests_
    backend = _backend(images, image_placeholder="<IMG>", max_images=1)
    inputs = backend.build_inputs(FakeTokenizer(), reqs[1:2])
    assert "Query image: <IMG>" in inputs[0]["prompt"]
    with pytest.raises(ValueError, match="CIRR/0"):
        backend.build_inputs(FakeTokenizer(), reqs[:1])
    assert backend.generate([]) == []


def test_module_imports_without_vllm():
    code = "import sys, rge.rationale.vllm_backend; assert 'vllm' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def _has_cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except ImportError:
        return False


@pytest.mark.vllm
@pytest.mark.skipif(
    importlib.util.find_spec("vllm") is None
    or not _has_cuda()
    or not os.environ.get("RGE_VLLM_MODEL"),
    reason="needs vLLM, a CUDA device and RGE_VLLM_MODEL (a local model directory)",
)
def test_real_vllm_generation(requests_):
    reqs, images = requests_
    backend = VLLMBackend(
        os.environ["RGE_VLLM_MODEL"],
        tensor_parallel_size=int(os.environ.get("RGE_VLLM_TP", "1")),
        max_model_len=8192,
        max_tokens=64,
        load_image=images.__getitem__,
    )
    out = backend.generate(reqs)
    assert len(out) == len(reqs) and all(isinstance(t, str) and t for t in out)
