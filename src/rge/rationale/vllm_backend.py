"""The ``vllm`` backend: oracle rationales from a large VLM (paper: InternVL3.5-38B) via vLLM.

Offline multimodal generation: one ``LLM`` engine (tensor parallel over the node's GPUs), each
request a dict ``{"prompt": <chat-templated text>, "multi_modal_data": {"image": ...}}``. The
prompt is the rendered oracle prompt flattened to one user turn in which every image part
becomes the model's image placeholder (``<image>`` for InternVL), then passed through the
model tokenizer's chat template. Each request gets its own ``SamplingParams`` seed derived
from the run seed and the row key, so a row's rationale does not depend on its batch or shard.

vLLM is imported only when the engine is first needed, so this module imports (and its
request building is tested) without vLLM; tests inject stand-ins for ``LLM`` and
``SamplingParams`` through ``llm_cls`` / ``sampling_cls``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from rge.rationale.backend import OracleRequest, row_seed
from rge.rationale.prompts import flatten

# Tokens that end an InternVL / Qwen-style assistant turn.
DEFAULT_STOP_TOKENS = ("<|im_end|>", "<|endoftext|>", "<|im_start|>", "<|end|>")


class VLLMBackend:
    """Rationales from a vLLM engine; the engine is built lazily on first ``generate``."""

    name = "vllm"

    def __init__(
        self,
        model: str,
        *,
        revision: str | None = None,
        tensor_parallel_size: int = 1,
        max_model_len: int = 8192,
        gpu_memory_utilization: float = 0.9,
        dtype: str = "bfloat16",
        seed: int = 0,
        temperature: float = 0.0,
        top_p: float = 1.0,
        max_tokens: int = 128,
        stop: Sequence[str] = (),
        stop_tokens: Sequence[str] = DEFAULT_STOP_TOKENS,
        max_images: int = 2,
        image_placeholder: str = "<image>",
        trust_remote_code: bool = True,
        mm_processor_kwargs: dict[str, Any] | None = None,
        engine_kwargs: dict[str, Any] | None = None,
        load_image: Callable[[str], Any] | None = None,
        llm_cls: Any = None,
        sampling_cls: Any = None,
    ):
        self.model, self.revision, self.seed = model, revision, seed
        self.image_placeholder = image_placeholder
        self.stop_tokens = tuple(stop_tokens)
        self.sampling: dict[str, Any] = {
            "temperature": float(temperature),
            "top_p": float(top_p),
            "max_tokens": int(max_tokens),
            "stop": list(stop),
            "stop_tokens": list(self.stop_tokens),
        }
        self._engine_kwargs: dict[str, Any] = {
            "model": model,
            "revision": revision,
            "tensor_parallel_size": int(tensor_parallel_size),
            "max_model_len": int(max_model_len),
            "gpu_memory_utilization": float(gpu_memory_utilization),
            "dtype": dtype,
            "seed": int(seed),
            "trust_remote_code": bool(trust_remote_code),
            "limit_mm_per_prompt": {"image": int(max_images)},
            **({"mm_processor_kwargs": dict(mm_processor_kwargs)} if mm_processor_kwargs else {}),
            **(engine_kwargs or {}),
        }
        self.max_images = int(max_images)
        if load_image is None:
            from rge.data.images import load_image
        self._load_image = load_image
        self._llm_cls, self._sampling_cls = llm_cls, sampling_cls
        self._llm: Any = None

    def engine_kwargs(self) -> dict[str, Any]:
        """The keyword arguments the ``LLM`` engine is built with."""
        return dict(self._engine_kwargs)

    def _engine(self) -> Any:
        if self._llm is None:
            if self._llm_cls is None:
                from vllm import LLM

                self._llm_cls = LLM
            self._llm = self._llm_cls(**self._engine_kwargs)
        return self._llm

    def _sampling_type(self) -> Any:
        if self._sampling_cls is None:
            from vllm import SamplingParams

            self._sampling_cls = SamplingParams
        return self._sampling_cls

    def stop_token_ids(self, tokenizer: Any) -> list[int]:
        """Ids of the configured stop tokens the tokenizer knows (others are skipped)."""
        vocab = tokenizer.get_vocab()
        return [tokenizer.convert_tokens_to_ids(t) for t in self.stop_tokens if t in vocab]

    def prompt_text(self, tokenizer: Any, request: OracleRequest) -> str:
        """The chat-templated prompt string of one request."""
        content = flatten(request.prompt.messages[0]["content"], self.image_placeholder)
        return tokenizer.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
        )

    def build_inputs(self, tokenizer: Any, requests: Sequence[OracleRequest]) -> list[dict]:
        """vLLM inputs: prompt text plus the images (one PIL image, or a list of them)."""
        inputs = []
        for req in requests:
            paths = req.prompt.images
            if len(paths) > self.max_images:
                raise ValueError(
                    f"row {req.key}: {len(paths)} images but max_images is {self.max_images}"
                )
            item: dict[str, Any] = {"prompt": self.prompt_text(tokenizer, req)}
            if paths:
                images = [self._load_image(p) for p in paths]
                item["multi_modal_data"] = {"image": images[0] if len(images) == 1 else images}
            inputs.append(item)
        return inputs

    def sampling_params(self, tokenizer: Any, requests: Sequence[OracleRequest]) -> list[Any]:
        """One ``SamplingParams`` per request (same settings, per-row seed)."""
        cls, s = self._sampling_type(), self.sampling
        ids = self.stop_token_ids(tokenizer)
        return [
            cls(
                temperature=s["temperature"],
                top_p=s["top_p"],
                max_tokens=s["max_tokens"],
                stop=list(s["stop"]) or None,
                stop_token_ids=ids or None,
                seed=row_seed(self.seed, req.key),
            )
            for req in requests
        ]

    def generate(self, requests: Sequence[OracleRequest]) -> list[str]:
        """One rationale per request, in order (vLLM keeps the input order)."""
        if not requests:
            return []
        llm = self._engine()
        tokenizer = llm.get_tokenizer()
        inputs = self.build_inputs(tokenizer, requests)
        outputs = llm.generate(inputs, self.sampling_params(tokenizer, requests), use_tqdm=False)
        if len(outputs) != len(requests):
            raise RuntimeError(f"vLLM returned {len(outputs)} outputs for {len(requests)} requests")
        return [o.outputs[0].text.strip() for o in outputs]
