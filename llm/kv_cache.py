"""KV-cache tensors for batched decoding: grow in place, pad, merge and split batches.

transformers' ``DynamicLayer`` appends with ``torch.cat``, which copies a layer's whole
cache on every decoded token; at eight 2,000-token conversations that copy, not the
model, is the cost of a step. ``GrowableLayer`` keeps a buffer with spare room and
writes the new column in place.

A batch is left-padded: every row's newest token sits in the same column, so one
decode step writes one column for all rows, and the attention mask hides the padding.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers.cache_utils import Cache, DynamicLayer

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer: keys, values (batch, heads, tokens, dim)


def _capacity(tokens: int) -> int:
    """Room for ``tokens`` plus some growth, rounded up so resizes are rare."""
    return max(64, (tokens + tokens // 4 + 63) // 64 * 64)


class GrowableLayer(DynamicLayer):
    """A ``DynamicLayer`` whose keys/values are views into a buffer written in place."""

    def __init__(self, keys: torch.Tensor | None = None, values: torch.Tensor | None = None) -> None:
        super().__init__()
        self.length = 0
        if keys is not None and values is not None:
            self._allocate(keys, keys.shape[-2])
            self._write(keys, values)

    def _allocate(self, like: torch.Tensor, tokens: int) -> None:
        batch, heads, _, dim = like.shape
        self.dtype, self.device = like.dtype, like.device
        self._k = like.new_empty((batch, heads, _capacity(tokens), dim))
        self._v = like.new_empty((batch, heads, _capacity(tokens), dim))
        self.is_initialized = True

    def _write(self, keys: torch.Tensor, values: torch.Tensor) -> None:
        n = keys.shape[-2]
        end = self.length + n
        if end > self._k.shape[-2]:
            old_k, old_v = self._k, self._v
            self._allocate(old_k, end)
            self._k[..., : self.length, :] = old_k[..., : self.length, :]
            self._v[..., : self.length, :] = old_v[..., : self.length, :]
        self._k[..., self.length:end, :] = keys
        self._v[..., self.length:end, :] = values
        self.length = end
        self.keys = self._k[..., :end, :]
        self.values = self._v[..., :end, :]

    def lazy_initialization(self, key_states: torch.Tensor, value_states: torch.Tensor) -> None:
        self._allocate(key_states, key_states.shape[-2])

    def update(self, key_states: torch.Tensor, value_states: torch.Tensor, *args: Any, **kwargs: Any
               ) -> tuple[torch.Tensor, torch.Tensor]:
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        fresh = self.length == 0
        self._write(key_states, value_states)
        if key_states.shape[-2] > 1:
            # A prefill: hand attention contiguous tensors, as DynamicLayer does (strided
            # views of the buffer may take a slower attention kernel for long queries).
            return (key_states, value_states) if fresh else (self.keys.contiguous(), self.values.contiguous())
        return self.keys, self.values

    def get_seq_length(self) -> int:
        return self.length


def make_cache(num_layers: int, kv: KV | None = None) -> Cache:
    """An empty cache, or one holding ``kv`` (copied into growable buffers)."""
    if kv is None:
        return Cache(layers=[GrowableLayer() for _ in range(num_layers)])
    return Cache(layers=[GrowableLayer(k, v) for k, v in kv])


def cache_kv(cache: Cache) -> KV:
    """The (keys, values) views of every layer."""
    return [(layer.keys, layer.values) for layer in cache.layers]


def slice_kv(kv: KV, start: int, end: int, rows: torch.Tensor | None = None) -> KV:
    """Tokens ``start:end`` (and optionally only ``rows``) of every layer, as new tensors."""
    out = []
    for k, v in kv:
        if rows is not None:
            k, v = k.index_select(0, rows), v.index_select(0, rows)
        out.append((k[..., start:end, :].clone(), v[..., start:end, :].clone()))
    return out


def _left_pad(t: torch.Tensor, pad: int) -> torch.Tensor:
    if pad == 0:
        return t
    shape = list(t.shape)
    shape[-2] = pad
    return torch.cat([t.new_zeros(shape), t], dim=-2)


def merge_kv(a: KV, a_len: int, b: KV, b_len: int) -> KV:
    """Rows of ``a`` then rows of ``b``, each left-padded to the longer of the two lengths."""
    width = max(a_len, b_len)
    return [
        (torch.cat([_left_pad(ka, width - a_len), _left_pad(kb, width - b_len)], dim=0),
         torch.cat([_left_pad(va, width - a_len), _left_pad(vb, width - b_len)], dim=0))
        for (ka, va), (kb, vb) in zip(a, b)
    ]


def kv_bytes(kv: KV) -> int:
    return sum(k.numel() * k.element_size() + v.numel() * v.element_size() for k, v in kv)
