"""Embeddings and the LM loss from one forward pass; direct-mode embedding of items.

The embedding is the last-layer hidden state at the first ``<emb>`` of each row (the state
computed with ``<emb>`` as the input token), L2-normalised. Position ids (3-row M-RoPE) are
computed here from the attention mask for every call, so a row's result does not depend on the
padding side, on the other rows, or on rope state left on the model by an earlier call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F

from rge.data.records import Item
from rge.model.chat import IGNORE, build_batch

_MODEL_KEYS = ("input_ids", "attention_mask", "pixel_values", "image_grid_thw", "mm_token_type_ids")


def move_batch(
    batch: dict[str, torch.Tensor], device: torch.device | str
) -> dict[str, torch.Tensor]:
    """Move every tensor of ``batch`` to ``device``."""
    return {k: v.to(device) for k, v in batch.items()}


def position_ids(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """M-RoPE position ids (3, B, T) for ``batch``, respecting padding on either side."""
    return model.model.get_rope_index(
        batch["input_ids"],
        mm_token_type_ids=batch["mm_token_type_ids"],
        image_grid_thw=batch.get("image_grid_thw"),
        attention_mask=batch["attention_mask"],
    )[0]


def hidden_states(model: Any, batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """Last-layer hidden states (B, T, D) of one full forward (no cache)."""
    inputs = {k: batch[k] for k in _MODEL_KEYS if k in batch}
    model.model.rope_deltas = None  # independent call: never reuse another call's rope offsets
    out = model.model(**inputs, position_ids=position_ids(model, batch), use_cache=False)
    return out.last_hidden_state


def emb_positions(input_ids: torch.Tensor, emb_id: int) -> torch.Tensor:
    """Index of the first ``<emb>`` in each row; raises naming the rows that have none."""
    hit = input_ids == emb_id
    missing = (~hit.any(dim=1)).nonzero().flatten().tolist()
    if missing:
        raise ValueError(f"rows {missing} contain no <emb> token (id {emb_id})")
    return hit.int().argmax(dim=1)


def forward(
    model: Any, batch: dict[str, torch.Tensor], *, lm: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One forward: (embeddings (B, D) normalised, LM loss summed over tokens, number of tokens).

    Logits are computed only on the supervised positions (the LM head on gathered hidden states).
    With ``lm=False`` the loss is 0 and the count 0.
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
    model: Any,
    processor: Any,
    items: list[Item],
    *,
    batch_size: int = 32,
    load_image: Callable[[str], Any] | None = None,
) -> torch.Tensor:
    """Direct-mode embeddings (input + assistant header + ``<emb>``), in input order, normalised."""
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
