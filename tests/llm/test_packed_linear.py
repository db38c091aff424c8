"""Packed linear layers: same numbers as F.linear, used for few rows only, and on in the CPU backend."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from llm.packed_linear import MAX_PACKED_ROWS, PackedLinear, pack_linears


@pytest.mark.parametrize("rows", [1, 2, 8, MAX_PACKED_ROWS, 300])
def test_packed_layer_gives_the_same_numbers_as_the_plain_one(rows):
    torch.manual_seed(0)
    plain = nn.Linear(96, 4096)  # wide: even one row takes the packed path
    packed = PackedLinear.from_linear(nn.Linear(96, 4096))
    packed.load_state_dict(plain.state_dict())
    packed.packed = torch.ops.mkldnn._reorder_linear_weight(packed.weight.detach(), 8)
    x = torch.randn(rows, 1, 96)
    with torch.inference_mode():
        assert torch.allclose(packed(x), plain(x), atol=1e-4)


def test_the_packed_path_is_taken_for_a_batch_and_not_for_a_prefill_or_training(monkeypatch):
    layer = PackedLinear.from_linear(nn.Linear(32, 64))
    calls = []
    real = torch.ops.mkldnn._linear_pointwise
    monkeypatch.setattr(torch.ops.mkldnn, "_linear_pointwise", lambda *a: calls.append(a[0].shape) or real(*a))
    with torch.inference_mode():
        layer(torch.randn(8, 1, 32))  # a decode step of eight rows
        layer(torch.randn(1, 500, 32))  # a prefill
        layer(torch.randn(1, 1, 32))  # one row of a narrow layer: MKL's vector path is as fast
    y = layer(torch.randn(8, 1, 32))  # with autograd: the plain path, so gradients flow
    y.sum().backward()
    assert calls == [torch.Size([8, 1, 32])]
    assert layer.weight.grad is not None


def test_pack_linears_packs_a_float32_model_and_leaves_other_dtypes():
    model = nn.Sequential(nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 8).to(torch.bfloat16))
    assert pack_linears(model) == 1
    assert type(model[0]) is PackedLinear and type(model[2]) is nn.Linear


def test_the_cpu_backend_decodes_with_packed_layers(transformers_smollm2):
    kinds = {type(m).__name__ for m in transformers_smollm2.model.modules()}
    assert "PackedLinear" in kinds
    assert not any(type(m) is nn.Linear for m in transformers_smollm2.model.modules())
