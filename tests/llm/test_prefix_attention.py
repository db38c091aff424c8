"""Split prefix attention: the same numbers as masked SDPA, taken only where it is exact, on in the CPU backend."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from llm import prefix_attention
from llm.kv_cache import cache_kv, make_cache, slice_kv
from llm.prefix_attention import NAME, mask, split_causal_attention


def _masked_sdpa(query, key, value):
    """Reference: SDPA with the bottom-right-aligned causal mask materialised."""
    q_len, kv_len = query.shape[2], key.shape[2]
    past = kv_len - q_len
    allowed = torch.arange(past, kv_len)[:, None] >= torch.arange(kv_len)[None, :]
    return F.scaled_dot_product_attention(query, key, value, attn_mask=allowed)


@pytest.mark.parametrize("past,new", [(0, 7), (1, 5), (37, 64), (300, 129)])
def test_split_attention_equals_masked_sdpa(past, new):
    torch.manual_seed(past + new)
    query = torch.randn(1, 4, new, 32)
    key, value = torch.randn(1, 4, past + new, 32), torch.randn(1, 4, past + new, 32)
    expected = _masked_sdpa(query, key, value)
    assert torch.allclose(split_causal_attention(query, key, value), expected, atol=1e-5)


def test_a_wrong_alignment_would_be_caught():
    """The reference itself tells the aligned mask from SDPA's top-left ``is_causal``."""
    torch.manual_seed(0)
    query, key, value = torch.randn(1, 2, 5, 16), torch.randn(1, 2, 12, 16), torch.randn(1, 2, 12, 16)
    top_left = F.scaled_dot_product_attention(query, key, value, is_causal=True)
    assert not torch.allclose(top_left, _masked_sdpa(query, key, value), atol=1e-3)


def test_mask_is_dropped_only_for_one_unpadded_row_over_a_cache():
    from transformers.masking_utils import causal_mask_function, sdpa_mask

    plain = dict(q_length=5, kv_length=12, q_offset=7, mask_function=causal_mask_function)
    assert mask(1, **plain) is None
    assert mask(1, **plain, attention_mask=torch.ones(1, 12, dtype=torch.bool)) is None
    padded = torch.ones(1, 12, dtype=torch.bool)
    padded[0, 0] = False
    others = [(2, plain), (1, dict(plain, attention_mask=padded)),
              (1, dict(q_length=1, kv_length=12, q_offset=11, mask_function=causal_mask_function))]
    for batch, kwargs in others:  # everything else: exactly transformers' SDPA mask
        ours, theirs = mask(batch, **kwargs), sdpa_mask(batch, **kwargs)
        assert (ours is None and theirs is None) or torch.equal(ours, theirs)
    assert mask(2, **plain) is not None
    assert not bool(mask(1, **plain, attention_mask=padded)[0, 0, :, 0].any())  # padding stays hidden


def test_the_cpu_backend_prefills_over_a_cache_with_the_split_path(transformers_smollm2, monkeypatch):
    """Real model: logits over a cached prefix equal a full forward's, and the split path ran."""
    model = transformers_smollm2.model
    assert model.config._attn_implementation == NAME
    calls = []
    real = prefix_attention.split_causal_attention
    monkeypatch.setattr(prefix_attention, "split_causal_attention",
                        lambda *a, **k: calls.append(a[0].shape) or real(*a, **k))
    layers = model.config.num_hidden_layers
    torch.manual_seed(0)
    ids = torch.randint(100, 20000, (1, 160))
    with torch.inference_mode():
        full = model(input_ids=ids).logits[:, 100:]
        assert calls == []  # no cache: transformers' own causal SDPA
        cache = make_cache(layers)
        model(input_ids=ids[:, :100], position_ids=torch.arange(100).unsqueeze(0), past_key_values=cache, use_cache=True)
        cache = make_cache(layers, slice_kv(cache_kv(cache), 0, 100))
        cached = model(input_ids=ids[:, 100:], position_ids=torch.arange(100, 160).unsqueeze(0),
                       past_key_values=cache, use_cache=True).logits
    assert len(calls) == layers
    assert torch.allclose(cached, full, atol=1e-3)
    assert torch.equal(cached.argmax(-1), full.argmax(-1))
