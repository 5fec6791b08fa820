"""Embeddings and the LM loss from one forward pass; direct-mode embedding of items.

The embedding is the last-layer hidden state at the first ``<emb>`` of each row (the state
computed with ``<emb>`` as the input token), L2-normalised. Position ids (3-row M-RoPE) are
computed here from the attention mask for every call, so a row's result does not depend on the
padding side, on the other rows, or on rope state left on the model by an earlier call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F

from rge.data.records import Item
from rge.model.chat import IGNORE, build_batch

if TYPE_CHECKING:
    from PIL.Image import Image
    from transformers import Qwen2_5_VLForConditionalGeneration, Qwen2_5_VLProcessor

_MODEL_KEYS = ("input_ids", "attention_mask", "pixel_values", "image_grid_thw", "mm_token_type_ids")


def move_batch(
    batch: dict[str, torch.Tensor], device: torch.device | str
) -> dict[str, torch.Tensor]:
    """Move every tensor of ``batch`` to ``device`` (dtypes unchanged); returns a new dict."""
    return {k: v.to(device) for k, v in batch.items()}


def position_ids(
    model: Qwen2_5_VLForConditionalGeneration, batch: dict[str, torch.Tensor]
) -> torch.Tensor:
    """M-RoPE position ids (3, B, T) int64 for ``batch``, respecting padding on either side.

    ``batch`` needs ``input_ids``, ``attention_mask`` and ``mm_token_type_ids`` (B, T) (without
    the latter transformers silently places image tokens as text) and ``image_grid_thw`` when it
    has images. Rows: temporal, height, width positions; on the batch's device.
    """
    return model.model.get_rope_index(
        batch["input_ids"],
        mm_token_type_ids=batch["mm_token_type_ids"],
        image_grid_thw=batch.get("image_grid_thw"),
        attention_mask=batch["attention_mask"],
    )[0]


def hidden_states(
    model: Qwen2_5_VLForConditionalGeneration, batch: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Last-layer hidden states (B, T, D) of one full forward (no cache), in the model's dtype.

    ``batch`` as ``chat.build_batch`` makes it, on the model's device. Resets the model's
    cached rope offsets (``rope_deltas``), so the call is independent of earlier ones.
    """
    inputs = {k: batch[k] for k in _MODEL_KEYS if k in batch}
    model.model.rope_deltas = None  # independent call: never reuse another call's rope offsets
    out = model.model(**inputs, position_ids=position_ids(model, batch), use_cache=False)
    return out.last_hidden_state


def emb_positions(input_ids: torch.Tensor, emb_id: int) -> torch.Tensor:
    """Index (B,) int64 of the first ``<emb>`` in each row of ``input_ids`` (B, T).

    Raises ValueError naming the rows that have no ``<emb>``.
    """
    hit = input_ids == emb_id
    missing = (~hit.any(dim=1)).nonzero().flatten().tolist()
    if missing:
        raise ValueError(f"rows {missing} contain no <emb> token (id {emb_id})")
    return hit.int().argmax(dim=1)


def forward(
    model: Qwen2_5_VLForConditionalGeneration, batch: dict[str, torch.Tensor], *, lm: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One forward: the ``<emb>`` embeddings and the summed LM loss (paper eqs. 1, 7).

    Args:
        model: the backbone; ``model.config.emb_token_id`` must be set (``add_emb_token``).
        batch: ``chat.build_batch`` output on the model's device; ``labels`` (B, T) int64 with
            ``IGNORE`` on unsupervised positions is needed when ``lm`` is True.
        lm: compute the LM loss; False skips the LM head entirely.

    Returns:
        (emb, loss_sum, n_tokens): emb (B, D) float32, L2-normalised, with grad if the model
        has it; loss_sum a float32 scalar, the cross-entropy summed over the N supervised next
        tokens; n_tokens the int64 scalar N. With ``lm=False`` or no supervised token both are 0.
        Callers divide sum by count over all their pieces (the token-weighted mean of eq. 8).

    Raises:
        ValueError: a row without ``<emb>``.
    """
    h = hidden_states(model, batch)
    idx = emb_positions(batch["input_ids"], model.config.emb_token_id)
    emb = F.normalize(h[torch.arange(h.shape[0], device=h.device), idx].float(), dim=-1)
    zero = h.new_zeros((), dtype=torch.float32)
    if not lm:
        return emb, zero, h.new_zeros((), dtype=torch.long)
    target = batch["labels"][:, 1:]
    keep = target != IGNORE
    n = keep.sum()
    if n == 0:
        return emb, zero, n
    logits = model.lm_head(h[:, :-1][keep]).float()
    return emb, F.cross_entropy(logits, target[keep], reduction="sum"), n


@torch.no_grad()
def embed_direct(
    model: Qwen2_5_VLForConditionalGeneration,
    processor: Qwen2_5_VLProcessor,
    items: list[Item],
    *,
    batch_size: int = 32,
    load_image: Callable[[str], Image] | None = None,
) -> torch.Tensor:
    """Direct-mode embeddings (paper §3.3: input + assistant header + ``<emb>``, no rationale).

    Args:
        model, processor: the backbone (any device; it is put in eval mode for the call and
            restored afterwards).
        items: the inputs, in order.
        batch_size: items per forward.
        load_image: image path -> PIL image; None reads files (``rge.data.images``).

    Returns:
        (N, D) float32 on the CPU, L2-normalised, row i for ``items[i]``; (0, D) for no items.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    try:
        for i in range(0, len(items), batch_size):
            batch = build_batch(processor, items[i : i + batch_size], load_image=load_image)
            out.append(forward(model, move_batch(batch, device), lm=False)[0].cpu())
    finally:
        model.train(was_training)
    if not out:
        return torch.zeros((0, model.config.text_config.hidden_size))
    return torch.cat(out)
