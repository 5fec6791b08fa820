"""The ``hf`` backend: oracle rationales from any transformers VLM (a Qwen2.5-VL checkpoint here).

The oracle sees its own prompt (``rge.rationale.prompts``), not the RGE sequence format, so this
does not use ``rge.model.reasoning``: the prompt goes through the processor's chat template,
rows are batched with left padding and decoded with the model's ``generate``, stopping at the
end-of-turn token. Greedy when ``temperature == 0``, sampled otherwise (seeded per batch from the
first row's key, so a batch's output does not depend on what ran before it).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from rge.rationale.backend import OracleRequest, row_seed

if TYPE_CHECKING:
    from PIL.Image import Image
    from transformers import PreTrainedModel, ProcessorMixin

STOP_TOKENS = ("<|im_end|>", "<|endoftext|>")
# Vision placeholders must never be generated: decoding them is meaningless and a young model
# may emit them (ml-stack-facts, trap 4).
VISION_TOKENS = (
    "<|image_pad|>",
    "<|video_pad|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
)


class HFBackend:
    """Batched ``generate`` of a transformers VLM on rendered oracle prompts.

    Args:
        model, processor: a loaded VLM (any device; inputs are moved to ``model.device``) and
            its processor (chat template, image processor).
        model_id, revision: provenance written into every rationale row.
        max_new_tokens, temperature, top_p: decoding; ``temperature == 0`` is greedy.
        batch_size: rows per ``generate`` call (left padded).
        seed: with each batch's first key, seeds sampling (``row_seed``).
        load_image: image path -> PIL image; None reads files (``rge.data.images``).

    Raises:
        ValueError: ``batch_size`` < 1.
    """

    name = "hf"

    def __init__(
        self,
        model: PreTrainedModel,
        processor: ProcessorMixin,
        *,
        model_id: str,
        revision: str | None = None,
        max_new_tokens: int = 128,
        temperature: float = 0.0,
        top_p: float = 1.0,
        batch_size: int = 8,
        seed: int = 0,
        load_image: Callable[[str], Image] | None = None,
    ):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self._model, self._processor = model, processor
        self.model, self.revision = model_id, revision
        self.batch_size, self.seed = batch_size, seed
        self.sampling: dict[str, Any] = {
            "do_sample": temperature > 0,
            "temperature": float(temperature),
            "top_p": float(top_p),
            "max_new_tokens": int(max_new_tokens),
        }
        if load_image is None:
            from rge.data.images import load_image
        self._load_image = load_image

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        *,
        revision: str | None = None,
        dtype: str = "float32",
        min_pixels: int,
        max_pixels: int,
        device: str | None = None,
        model_id: str | None = None,
        **kwargs: Any,
    ) -> HFBackend:
        """Load a checkpoint with ``rge.model.factory.load_pretrained`` and wrap it.

        Raises what ``load_pretrained`` raises (offline without a local directory, a bad dtype,
        a non-Qwen2.5-VL processor); ``kwargs`` go to ``HFBackend``.
        """
        from rge.model.factory import load_pretrained

        model, processor = load_pretrained(
            str(path), revision=revision, dtype=dtype, min_pixels=min_pixels, max_pixels=max_pixels
        )
        if device:
            model = model.to(device)
        return cls(model, processor, model_id=model_id or str(path), revision=revision, **kwargs)

    def generate(self, requests: Sequence[OracleRequest]) -> list[str]:
        """One rationale per request, in order (special tokens dropped, whitespace trimmed)."""
        out: list[str] = []
        for start in range(0, len(requests), self.batch_size):
            out += self._batch(requests[start : start + self.batch_size])
        return out

    def _batch(self, requests: Sequence[OracleRequest]) -> list[str]:
        import torch

        proc, tk = self._processor, self._processor.tokenizer
        texts = [
            proc.apply_chat_template(r.prompt.messages, tokenize=False, add_generation_prompt=True)
            for r in requests
        ]
        images = [self._load_image(p) for r in requests for p in r.prompt.images]
        side, tk.padding_side = tk.padding_side, "left"
        try:
            inputs = proc(text=texts, images=images or None, padding=True, return_tensors="pt").to(
                self._model.device
            )
        finally:
            tk.padding_side = side
        vocab = tk.get_vocab()
        stop = [tk.convert_tokens_to_ids(t) for t in STOP_TOKENS if t in vocab]
        kwargs: dict[str, Any] = {
            "max_new_tokens": self.sampling["max_new_tokens"],
            "do_sample": self.sampling["do_sample"],
            "eos_token_id": stop or None,
            "pad_token_id": tk.pad_token_id,
            "suppress_tokens": [tk.convert_tokens_to_ids(t) for t in VISION_TOKENS if t in vocab],
        }
        if self.sampling["do_sample"]:
            kwargs.update(temperature=self.sampling["temperature"], top_p=self.sampling["top_p"])
        self._reset_rope()
        device = torch.device(self._model.device)
        cuda = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=cuda), torch.no_grad():
            torch.manual_seed(row_seed(self.seed, requests[0].key))
            ids = self._model.generate(**inputs, **kwargs)
        self._reset_rope()
        new = ids[:, inputs["input_ids"].shape[1] :]
        return [t.strip() for t in tk.batch_decode(new, skip_special_tokens=True)]

    def _reset_rope(self) -> None:
        # Qwen2.5-VL keeps the mrope offsets of the last call on the model; each batch is an
        # independent generation (ml-stack-facts, trap 2).
        inner = getattr(self._model, "model", None)
        if inner is not None and hasattr(inner, "rope_deltas"):
            inner.rope_deltas = None
