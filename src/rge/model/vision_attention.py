"""One attention call per vision layer for Qwen2.5-VL's windowed vision attention.

transformers 5.24 runs the vision tower's window attention one window at a time unless the
vision config's attention implementation is a "flash" one (``Qwen2_5_VLVisionAttention.forward``
tests ``is_flash_attention_requested``, a substring test on the name): then it makes one call
with ``cu_seq_lens_q/k`` and ``max_length_q/k``. 8 images at 448x448 take 3,616 sdpa calls per
forward with ``sdpa`` (gpu-generation-facts §d.1), and each layer reads the window lengths back
to the host.

``use_vision_varlen(model)`` registers ``varlen_vision_attention`` through transformers'
``AttentionInterface`` under ``VISION_ATTENTION`` (the name contains "flash" for that routing)
and sets it for the vision tower only, after loading; the text model keeps its implementation.
The function runs every window of a layer in one call:

- on CUDA in float16/bfloat16, ``torch.nn.attention.varlen.varlen_attn`` (torch >= 2.10), called
  positionally ``(q, k, v, cu_q, cu_k, max_q, max_k)`` because its keywords changed between
  2.10 and 2.14; its default scale 1/sqrt(head_dim) is Qwen's;
- otherwise (CPU, float32, a scale other than the default, no ``varlen`` module) the windows
  padded to the longest one in one batched ``scaled_dot_product_attention`` with a key mask.

Both have autograd (it runs in training forwards too). Do not pass the name to
``from_pretrained``: its flash checks look an unknown "flash" name up as a Hub kernel and raise.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F

VISION_ATTENTION = "rge_flash_varlen_vision"


def _padded(q, k, v, cu: torch.Tensor, max_len: int, scaling: float) -> torch.Tensor:
    """Windows of q/k/v (total, heads, dim) padded to (windows, heads, max_len, dim), one sdpa."""
    total = q.shape[0]
    lengths = cu[1:] - cu[:-1]
    n = lengths.shape[0]
    window = torch.repeat_interleave(torch.arange(n, device=q.device), lengths, output_size=total)
    pos = torch.arange(total, device=q.device) - cu[:-1].long()[window]

    def pad(x: torch.Tensor) -> torch.Tensor:
        out = x.new_zeros((n, max_len, *x.shape[1:]))
        return out.index_put((window, pos), x).transpose(1, 2)

    keys_ok = torch.arange(max_len, device=q.device) < lengths[:, None]
    out = F.scaled_dot_product_attention(
        pad(q), pad(k), pad(v), attn_mask=keys_ok[:, None, None, :], scale=scaling
    )
    return out.transpose(1, 2)[window, pos]


def _varlen(q, k, v, cu: torch.Tensor, max_len: int, scaling: float) -> torch.Tensor | None:
    """``varlen_attn`` where it applies (CUDA, half precision, default scale), else None."""
    if q.device.type != "cuda" or q.dtype not in (torch.float16, torch.bfloat16):
        return None
    if not math.isclose(scaling, q.shape[-1] ** -0.5, rel_tol=1e-6):
        return None
    try:
        from torch.nn.attention.varlen import varlen_attn
    except ImportError:
        return None
    cu32 = cu.to(torch.int32)
    return varlen_attn(q, k, v, cu32, cu32, int(max_len), int(max_len))


def varlen_vision_attention(
    module: Any,
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attention_mask: torch.Tensor | None,
    scaling: float | None = None,
    dropout: float = 0.0,
    cu_seq_lens_q: torch.Tensor | None = None,
    cu_seq_lens_k: torch.Tensor | None = None,
    max_length_q: int | None = None,
    max_length_k: int | None = None,
    **kwargs: Any,
) -> tuple[torch.Tensor, None]:
    """Non-causal attention within each window, all windows in one call (transformers'
    attention-interface signature).

    Args:
        query, key, value: (1, heads, total, head_dim), the windows packed along ``total``.
        cu_seq_lens_q, cu_seq_lens_k: (windows + 1,) cumulative window boundaries (equal).
        max_length_q: the longest window (host int).

    Returns:
        ((1, total, heads, head_dim), None), as transformers' flash implementations return.

    Raises:
        ValueError: called without window boundaries (the routing changed) or with dropout.
    """
    if cu_seq_lens_q is None or max_length_q is None:
        raise ValueError(
            f"{VISION_ATTENTION}: called without cu_seq_lens_q/max_length_q; transformers no "
            "longer routes 'flash'-named implementations to the varlen branch of the vision "
            "attention (check rge.model.vision_attention against the installed transformers)"
        )
    if cu_seq_lens_k is not None and not torch.equal(cu_seq_lens_k, cu_seq_lens_q):
        raise ValueError(f"{VISION_ATTENTION}: query and key windows differ")
    if dropout:
        raise ValueError(f"{VISION_ATTENTION}: attention dropout is not supported")
    q, k, v = (x[0].transpose(0, 1) for x in (query, key, value))  # (total, heads, dim)
    scale = float(scaling if scaling is not None else q.shape[-1] ** -0.5)
    out = _varlen(q, k, v, cu_seq_lens_q, max_length_q, scale)
    if out is None:
        out = _padded(q, k, v, cu_seq_lens_q, int(max_length_q), scale)
    return out.unsqueeze(0), None


def register() -> str:
    """Register ``varlen_vision_attention`` with transformers (idempotent); return its name."""
    from transformers import AttentionInterface

    AttentionInterface.register(VISION_ATTENTION, varlen_vision_attention)
    return VISION_ATTENTION


def use_vision_varlen(model: Any) -> Any:
    """Route ``model``'s vision tower (only) to the one-call attention; returns ``model``.

    Call after loading. The text model's attention implementation is left as it was.
    """
    text = model.config.text_config._attn_implementation
    model.set_attn_implementation({"vision_config": register()})
    if model.config.text_config._attn_implementation != text:
        raise RuntimeError(
            f"set_attn_implementation changed the text model's attention ({text!r} -> "
            f"{model.config.text_config._attn_implementation!r}); transformers' routing changed"
        )
    return model
