"""Build, load and save the Qwen2.5-VL backbone with the ``<emb>`` token.

Two sources, one result (a ``Qwen2_5_VLForConditionalGeneration`` and its ``Qwen2_5_VLProcessor``
whose tokenizer knows ``<emb>``): a hub checkpoint or local directory (``load_pretrained``; the
paper study) or a tiny random-initialised model with a locally trained tokenizer (``build_tiny``;
the embedded study). ``build_on_meta`` builds a full-size architecture without memory, for shape
and parameter-count checks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from transformers import (
    AutoProcessor,
    Qwen2_5_VLConfig,
    Qwen2_5_VLForConditionalGeneration,
    Qwen2_5_VLProcessor,
    Qwen2VLImageProcessor,
    Qwen2VLVideoProcessor,
)

from rge.io import atomic_dir
from rge.model import tokenizer as tok

if TYPE_CHECKING:
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

EMB_TOKEN = "<emb>"

# Defaults of the tiny spec; every key can be overridden in the config's ``model.tiny`` slice.
TINY_DEFAULTS: dict[str, Any] = {
    "text_hidden": 128,
    "text_layers": 2,
    "heads": 4,
    "kv_heads": 2,
    "intermediate": 256,
    "vision_depth": 2,
    "vision_hidden": 64,
    "vision_intermediate": 128,
    "vision_heads": 4,
    "window_size": 112,
    "fullatt_block_indexes": [1],
    # A config value, not an architecture change. M-RoPE gives the image-width axis the lowest
    # frequencies; with the stock theta (1e6) the few width positions of a 4x4 token grid get
    # near-identical rotations, and the vision tower has no absolute position embedding, so a
    # tiny model cannot tell left from right (ml-stack-facts, "Science at tiny scale").
    "rope_theta": 10.0,
    "mrope_section": [4, 6, 6],
    "vocab_size": 512,
    "tie_word_embeddings": False,
}


def tiny_config(spec: dict, tokenizer: PreTrainedTokenizerBase) -> Qwen2_5_VLConfig:
    """Turn a tiny spec (``TINY_DEFAULTS`` keys) into a Qwen2.5-VL config wired to ``tokenizer``.

    The text vocabulary is ``len(tokenizer)``; the special-token ids come from the tokenizer, so
    config and tokenizer cannot disagree. Raises ValueError on an unknown spec key, or when
    ``mrope_section`` does not sum to head_dim / 2 (M-RoPE splits each head's rotary half).
    """
    unknown = sorted(set(spec) - set(TINY_DEFAULTS))
    if unknown:
        raise ValueError(
            f"tiny model spec: unknown key(s) {unknown}; known: {sorted(TINY_DEFAULTS)}"
        )
    s = {**TINY_DEFAULTS, **spec}
    head_dim, rem = divmod(s["text_hidden"], s["heads"])
    if rem or sum(s["mrope_section"]) * 2 != head_dim:
        raise ValueError(
            f"tiny model spec: mrope_section {s['mrope_section']} must sum to head_dim/2 "
            f"(text_hidden {s['text_hidden']} / heads {s['heads']} = {s['text_hidden'] / s['heads']})"
        )
    ids = tok_ids(tokenizer)
    return Qwen2_5_VLConfig(
        text_config={
            "hidden_size": s["text_hidden"],
            "num_hidden_layers": s["text_layers"],
            "num_attention_heads": s["heads"],
            "num_key_value_heads": s["kv_heads"],
            "intermediate_size": s["intermediate"],
            "vocab_size": len(tokenizer),
            "max_position_embeddings": 4096,
            "rope_parameters": {
                "rope_type": "default",
                "rope_theta": float(s["rope_theta"]),
                "mrope_section": list(s["mrope_section"]),
            },
            "bos_token_id": ids["pad"],
            "eos_token_id": ids["eos"],
            "pad_token_id": ids["pad"],
        },
        vision_config={
            "depth": s["vision_depth"],
            "hidden_size": s["vision_hidden"],
            "intermediate_size": s["vision_intermediate"],
            "num_heads": s["vision_heads"],
            "patch_size": 14,
            "spatial_merge_size": 2,
            "temporal_patch_size": 2,
            "window_size": s["window_size"],
            "fullatt_block_indexes": list(s["fullatt_block_indexes"]),
            "out_hidden_size": s["text_hidden"],
        },
        image_token_id=ids["image"],
        video_token_id=ids["video"],
        vision_start_token_id=ids["vision_start"],
        vision_end_token_id=ids["vision_end"],
        tie_word_embeddings=s["tie_word_embeddings"],
    )


def tok_ids(tokenizer: PreTrainedTokenizerBase) -> dict[str, int]:
    """Ids of the Qwen special tokens in ``tokenizer``."""
    names = {
        "pad": tok.PAD,
        "eos": tok.IM_END,
        "image": tok.IMAGE_PAD,
        "video": tok.VIDEO_PAD,
        "vision_start": tok.VISION_START,
        "vision_end": tok.VISION_END,
    }
    return {k: tokenizer.convert_tokens_to_ids(v) for k, v in names.items()}


def make_processor(
    tokenizer: PreTrainedTokenizerBase, *, min_pixels: int, max_pixels: int
) -> Qwen2_5_VLProcessor:
    """The stock Qwen2.5-VL processor around ``tokenizer`` with our chat template.

    ``min_pixels`` / ``max_pixels`` bound each image's area after resizing (pixels); the image
    processor rounds sides to multiples of 28 (patch 14 x spatial merge 2), so an image becomes
    (h / 28) * (w / 28) ``<|image_pad|>`` tokens.
    """
    image_processor = Qwen2VLImageProcessor(min_pixels=min_pixels, max_pixels=max_pixels)
    return Qwen2_5_VLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=tok.CHAT_TEMPLATE,
    )


def add_emb_token(model: PreTrainedModel, processor: Qwen2_5_VLProcessor) -> int:
    """Add ``<emb>`` as a special token if missing and resize the embeddings; return its id.

    Mutates both: the tokenizer gains one token, the input (and untied output) embedding
    matrices grow to ``len(tokenizer)`` rows, and ``model.config.emb_token_id`` is set. Works on
    the meta device (no mean to take there). Paper §3.2 (the ``<emb>`` token); DESIGN §5.
    """
    tk = processor.tokenizer
    if EMB_TOKEN not in tk.get_vocab():
        tk.add_tokens([EMB_TOKEN], special_tokens=True)
    n = len(tk)
    weight = model.get_input_embeddings().weight
    if weight.shape[0] < n:
        # New rows are drawn around the mean of the existing ones (transformers' default), a
        # neutral start; on the meta device there are no values to take a mean of.
        model.resize_token_embeddings(n, mean_resizing=not weight.is_meta)
    emb_id = emb_token_id(processor)
    # Saved in config.json, so the forward pass finds <emb> without the processor.
    model.config.emb_token_id = emb_id
    return emb_id


def emb_token_id(processor: Qwen2_5_VLProcessor | PreTrainedTokenizerBase) -> int:
    """The id of ``<emb>`` in a processor's tokenizer (or a tokenizer).

    Raises KeyError when the tokenizer has no ``<emb>`` (call ``add_emb_token`` first).
    """
    tk = getattr(processor, "tokenizer", processor)
    if EMB_TOKEN not in tk.get_vocab():
        raise KeyError(f"tokenizer has no {EMB_TOKEN!r} token (call add_emb_token first)")
    return tk.convert_tokens_to_ids(EMB_TOKEN)


def build_tiny(
    spec: dict,
    *,
    seed: int,
    min_pixels: int,
    max_pixels: int,
    corpus: Iterable[str] | None = None,
) -> tuple[Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor]:
    """A random-initialised tiny Qwen2.5-VL with a locally trained tokenizer (embedded study).

    Args:
        spec: overrides of ``TINY_DEFAULTS`` (the config's ``model.tiny``).
        seed: weight initialisation seed; same seed, same weights (the global RNG is untouched).
        min_pixels, max_pixels: image area bounds of the processor (see ``make_processor``).
        corpus: tokenizer training sentences (``tokenizer.train_tokenizer``); the embedded study
            passes the scene vocabulary through ``rge.backbone.tiny.build_tiny``.

    Returns:
        (model, processor): float32 on the CPU, eval mode, ``use_cache=False``, ``<emb>`` added.

    Raises:
        ValueError: an unknown spec key, an inconsistent ``mrope_section``, a too small vocab.
    """
    vocab_size = int({**TINY_DEFAULTS, **spec}["vocab_size"])
    tokenizer = tok.train_tokenizer(vocab_size, corpus)
    processor = make_processor(tokenizer, min_pixels=min_pixels, max_pixels=max_pixels)
    config = tiny_config(spec, tokenizer)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = Qwen2_5_VLForConditionalGeneration(config)
        add_emb_token(model, processor)
    model.config.use_cache = False
    return model.float().eval(), processor


def load_pretrained(
    name_or_path: str,
    *,
    revision: str | None = None,
    dtype: str = "float32",
    min_pixels: int,
    max_pixels: int,
    attn_implementation: str = "sdpa",
) -> tuple[Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor]:
    """Load a hub id or a local directory (same code); add ``<emb>`` if the tokenizer lacks it.

    Args:
        name_or_path: hub id or local checkpoint directory.
        revision: hub commit/tag/branch (ignored for a local directory); None is the default.
        dtype: a torch dtype name, e.g. ``"float32"`` or ``"bfloat16"``.
        min_pixels, max_pixels: image area bounds; the caller's bounds win over the checkpoint's.
        attn_implementation: transformers' attention backend (``"sdpa"``, ``"eager"``, ...).

    Returns:
        (model, processor) in eval mode on the CPU (callers move the model).

    Raises:
        FileNotFoundError: not a local directory while ``HF_HUB_OFFLINE=1``.
        ValueError: ``dtype`` is not a torch dtype name.
        TypeError: the checkpoint's processor is not a Qwen2.5-VL processor.
    """
    if not Path(name_or_path).exists() and os.environ.get("HF_HUB_OFFLINE") == "1":
        raise FileNotFoundError(
            f"{name_or_path!r} is not a local directory and HF_HUB_OFFLINE=1 forbids the hub"
        )
    torch_dtype = getattr(torch, dtype, None)
    if not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f"dtype {dtype!r} is not a torch dtype name (e.g. 'bfloat16')")
    model = Qwen2_5_VLForConditionalGeneration.from_pretrained(
        name_or_path,
        revision=revision,
        dtype=torch_dtype,
        attn_implementation=attn_implementation,
    )
    processor = AutoProcessor.from_pretrained(
        name_or_path, revision=revision, min_pixels=min_pixels, max_pixels=max_pixels
    )
    if not isinstance(processor, Qwen2_5_VLProcessor):
        raise TypeError(
            f"{name_or_path}: AutoProcessor gave {type(processor).__name__}, not a Qwen2.5-VL "
            "processor (is torchvision importable?)"
        )
    add_emb_token(model, processor)
    return model.eval(), processor


def save_pretrained(
    model: PreTrainedModel, processor: Qwen2_5_VLProcessor, out_dir: str | os.PathLike
) -> None:
    """Write model (safetensors) and processor into ``out_dir`` atomically.

    A reader never sees a half-written directory: the files go to a temporary sibling that is
    renamed into place (``rge.io.atomic_dir``); an existing ``out_dir`` is replaced.
    """
    with atomic_dir(out_dir) as tmp:
        model.save_pretrained(tmp)
        processor.save_pretrained(tmp)


def build_on_meta(config: dict) -> Qwen2_5_VLForConditionalGeneration:
    """Build the model described by a ``config.json``-style dict on the meta device (no memory).

    Keys starting with ``_`` are comments (e.g. ``_source``) and are ignored.
    """
    cfg = Qwen2_5_VLConfig(**{k: v for k, v in config.items() if not k.startswith("_")})
    with torch.device("meta"):
        return Qwen2_5_VLForConditionalGeneration(cfg)
