"""Faster small-batch decoding on a CPU: linear layers with a oneDNN-packed copy of their weights.

Why: a decode step of a batch feeds each linear layer a handful of rows. For one row
MKL's matrix-vector path is quick, but for 2–64 rows ``F.linear`` takes a general
matrix product that, on this AVX2 CPU, costs 2–3× the one-row time (e.g. SmolLM2's
1536×576 projection: 0.09 ms for one row, 0.26 ms for eight). oneDNN's linear over a
weight reordered once into its blocked layout does the eight rows in 0.14 ms, and the
49,152-row output head in 8 ms instead of 23 (4.6 instead of 9.6 for one row). Prefill
(hundreds of rows) stays on ``F.linear``, which is slightly faster there.

Cost: a second copy of each packed weight (~0.5 GB for the fp32 bundled model), so
this is used only for float32 models on the CPU. Inference only (no autograd through
the packed path); fine-tuning loads its own unpacked model.
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from torch import nn

logger = logging.getLogger(__name__)

MAX_PACKED_ROWS = 64  # above this (prefill) F.linear is as fast or faster
WIDE = 8192  # one row: only an output head this wide gains (the layers' projections lose a little)


class PackedLinear(nn.Linear):
    """An ``nn.Linear`` (so peft can still wrap it) that uses the packed weight for few rows."""

    packed: torch.Tensor

    @classmethod
    def from_linear(cls, linear: nn.Linear) -> "PackedLinear":
        linear.__class__ = cls  # keeps parameters, hooks and tied weights as they are
        linear.packed = torch.ops.mkldnn._reorder_linear_weight(linear.weight.detach(), 8)
        return linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.numel() // self.in_features
        wanted = 1 < rows <= MAX_PACKED_ROWS or (rows == 1 and self.out_features >= WIDE)
        if wanted and not torch.is_grad_enabled() and x.dtype == torch.float32:
            bias = None if self.bias is None else self.bias.detach()
            return torch.ops.mkldnn._linear_pointwise(x, self.packed, bias, "none", [], "")
        return super().forward(x)


def available() -> bool:
    """oneDNN is compiled into this torch and can pack a float32 weight."""
    try:
        return bool(torch.backends.mkldnn.is_available()) and hasattr(torch.ops.mkldnn, "_linear_pointwise")
    except Exception:  # an unusual torch build
        return False


def pack_linears(model: Any) -> int:
    """Turn every float32 CPU ``nn.Linear`` of ``model`` into a ``PackedLinear``; returns how many."""
    if not available():
        return 0
    count = 0
    for module in list(model.modules()):
        if type(module) is nn.Linear and module.weight.device.type == "cpu" \
                and module.weight.dtype == torch.float32:
            PackedLinear.from_linear(module)
            count += 1
    return count
