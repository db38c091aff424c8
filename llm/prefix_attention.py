"""Attention for a prompt prefilled over a cached prefix, without a materialised mask (CPU).

Why: a later turn of a conversation reuses the KV of its stable prefix (llm/prefix_cache.py)
and computes only its new tokens. transformers then hands SDPA an explicit boolean mask
(the new tokens are causal among themselves but see all the cached positions), and
PyTorch's CPU flash kernel with a mask cannot skip the masked blocks; at turn 100 of a
conversation (775 new tokens over 2,254) attention is ~45% of the prefill. Splitting it into
two mask-free calls — all new queries over the cached keys (no mask at all) and the new
tokens over themselves (``is_causal``, upper blocks skipped) — and merging the two by their
log-sum-exp gives the same result (to float rounding). Measured on the bundled model,
alternating the two paths: 7–13% less prefill time (BENCHMARKS.md §7).

Used only where it is exact and known: one row, no padding, a plain causal mask, on the
CPU. Everything else (batched decode steps with their padding masks, GPUs, sliding
windows) goes through transformers' own SDPA path unchanged.
"""

from __future__ import annotations

from typing import Any

import torch

NAME = "docchat_prefix_sdpa"


def _flash(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor, causal: bool,
           scale: float | None) -> tuple[torch.Tensor, torch.Tensor]:
    """(output (B, H, L, D), log-sum-exp (B, H, L)) of PyTorch's CPU flash attention."""
    out = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(query, key, value, 0.0, causal, scale=scale)
    return out[0], out[1]


def split_causal_attention(query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                           scale: float | None = None) -> torch.Tensor:
    """Causal attention of the last ``L`` positions (``query`` (B, H, L, D)) over ``key``/``value``
    (B, H, P + L, D): the first ``P`` are a cached prefix every query sees.

    Equal to SDPA with the bottom-right-aligned causal mask; returns (B, H, L, D).
    """
    past = key.shape[2] - query.shape[2]
    new_out, new_lse = _flash(query, key[:, :, past:], value[:, :, past:], True, scale)
    if past == 0:
        return new_out
    old_out, old_lse = _flash(query, key[:, :, :past], value[:, :, :past], False, scale)
    lse = torch.logaddexp(old_lse, new_lse)
    return (old_out * torch.exp(old_lse - lse).unsqueeze(-1)
            + new_out * torch.exp(new_lse - lse).unsqueeze(-1)).to(query.dtype)


def attention_forward(module: Any, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      attention_mask: torch.Tensor | None, dropout: float = 0.0,
                      scaling: float | None = None, **kwargs: Any) -> tuple[torch.Tensor, None]:
    """transformers attention function: the split path for a prefill over a cache, else SDPA.

    ``attention_mask`` is None here only when ``mask`` below said the mask is plain causal.
    """
    from transformers.integrations.sdpa_attention import repeat_kv, sdpa_attention_forward

    q_len, kv_len = query.shape[2], key.shape[2]
    if (attention_mask is not None or not 1 < q_len < kv_len or dropout or query.device.type != "cpu"
            or kwargs.get("position_bias") is not None or kwargs.get("sliding_window")):
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout,
                                      scaling=scaling, **kwargs)
    groups = getattr(module, "num_key_value_groups", 1)
    out = split_causal_attention(query, repeat_kv(key, groups), repeat_kv(value, groups), scaling)
    return out.transpose(1, 2).contiguous(), None


def mask(batch_size: int, q_length: int, kv_length: int, q_offset: Any = 0, kv_offset: int = 0,
         mask_function: Any = None, attention_mask: torch.Tensor | None = None,
         local_size: int | None = None, **kwargs: Any) -> torch.Tensor | None:
    """None (plain causal, bottom-right aligned) for one unpadded row over a cache; else SDPA's mask."""
    from transformers.masking_utils import causal_mask_function, sdpa_mask

    plain = (mask_function is causal_mask_function and local_size is None and batch_size == 1
             and 1 < q_length < kv_length and kv_offset == 0 and isinstance(q_offset, int)
             and q_offset + q_length == kv_length
             and (attention_mask is None or bool(attention_mask[:, -kv_length:].all())))
    if plain:
        return None
    return sdpa_mask(batch_size, q_length, kv_length, q_offset=q_offset, kv_offset=kv_offset,
                     mask_function=mask_function or causal_mask_function, attention_mask=attention_mask,
                     local_size=local_size, **kwargs)


def use_prefix_attention(model: Any) -> bool:
    """Switch ``model`` (an SDPA model on the CPU) to the split path; False where it does not apply."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS

    if getattr(model.config, "_attn_implementation", None) != "sdpa":
        return False
    AttentionInterface.register(NAME, attention_forward)
    ALL_MASK_ATTENTION_FUNCTIONS.register(NAME, mask)
    model.set_attn_implementation(NAME)
    return True
