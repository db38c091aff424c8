"""Per-conversation KV cache of a prompt's stable prefix, bounded in bytes, least recently used out.

A conversation's prompt starts with what stays the same from turn to turn (system
prompt, kept history); only this turn's context and question come after. Keeping the
KV of that prefix lets the next turn compute only the new tokens. Entries are keyed by
the caller's ``cache_key`` (user + conversation), and a hit is only the longest common
token prefix of the stored and the new prompt, so a stale or foreign entry can never
stand in for tokens it did not see.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from llm.kv_cache import KV, kv_bytes

MIN_REUSE_TOKENS = 16  # below this a hit saves less than the bookkeeping costs


@dataclass
class _Entry:
    tokens: tuple[int, ...]
    kv: KV
    nbytes: int


def common_prefix(a: tuple[int, ...] | list[int], b: tuple[int, ...] | list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


class PrefixCache:
    """``lookup`` and ``store`` KV prefixes by key; total size stays under ``max_bytes``."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @property
    def nbytes(self) -> int:
        with self._lock:
            return sum(e.nbytes for e in self._entries.values())

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, key: str | None, ids: list[int]) -> tuple[int, KV | None]:
        """(tokens reusable, stored KV) for ``ids`` under ``key``; (0, None) on a miss.

        At least the last prompt token is always left to compute, since its logits
        give the first answer token.
        """
        if key is None:
            return 0, None
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.misses += 1
                return 0, None
            self._entries.move_to_end(key)
        reuse = min(common_prefix(entry.tokens, ids), len(ids) - 1)
        if reuse < MIN_REUSE_TOKENS:
            self.misses += 1
            return 0, None
        self.hits += 1
        return reuse, entry.kv

    def store(self, key: str | None, tokens: list[int], kv: KV) -> None:
        """Keep ``kv`` (batch of one, exactly ``len(tokens)`` positions) for ``key``."""
        if key is None or len(tokens) < MIN_REUSE_TOKENS:
            return
        nbytes = kv_bytes(kv)
        with self._lock:
            self._entries.pop(key, None)
            if nbytes > self.max_bytes:
                return
            self._entries[key] = _Entry(tuple(tokens), kv, nbytes)
            total = sum(e.nbytes for e in self._entries.values())
            while total > self.max_bytes:
                _, old = self._entries.popitem(last=False)
                total -= old.nbytes

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
