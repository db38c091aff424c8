"""Which token sequence llama.cpp's one context holds, and the saved KV states of the others.

KV reuse: CPU prefill is the cost of a turn (~3 GFLOP a prompt token for 1.5B), and a
follow-up turn repeats the system prompt and the kept history. The context keeps the
sequence of the conversation that ran last; a request with the same ``cache_key`` (one
user's one conversation) prefills only the tokens after the longest common prefix. When
another conversation comes, the current one's state is saved into a per-key LRU
(``kv_cache_mb`` bytes at most) and the newcomer's saved state is restored, or the context
starts empty: a prefix is never reused across keys, nor without a key — except the part
the caller declares the same for everyone (``GenerationParams.shared_prefix``: the server's
system prompt and instructions: ~150 tokens, 1.3 s of a 1.5B first turn here, BENCHMARKS
§3b). Its KV is kept on its own, saved at exactly that boundary, so what a new conversation reuses can never hold
another user's tokens, and how much it reuses depends on the server's prompt alone.
"""

from __future__ import annotations

import hashlib
from array import array
from collections import OrderedDict
from typing import Any

DEFAULT_KV_CACHE_MB = 512
SHARED_CACHE_MB = 64  # states of shared prefixes (one per system prompt and language)


class StateCache:
    """Saved KV states by cache key, least recently used first out, bounded in bytes."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._states: OrderedDict[str, Any] = OrderedDict()

    def put(self, key: str, state: Any) -> None:
        self._states.pop(key, None)
        if state.llama_state_size > self.max_bytes:
            return
        self._states[key] = state
        while sum(s.llama_state_size for s in self._states.values()) > self.max_bytes:
            self._states.popitem(last=False)

    def take(self, key: str) -> Any | None:
        return self._states.pop(key, None)

    def get(self, key: str) -> Any | None:
        """The state, kept (and made the most recently used)."""
        state = self._states.get(key)
        if state is not None:
            self._states.move_to_end(key)
        return state

    def __len__(self) -> int:
        return len(self._states)


class ContextStates:
    """The cache key whose sequence the context holds (``owner``), the saved states of the
    other conversations (``kv_cache_mb`` at most) and of shared prefixes (by token digest)."""

    def __init__(self, kv_cache_mb: int = DEFAULT_KV_CACHE_MB, shared_mb: int = SHARED_CACHE_MB) -> None:
        self.owner: str | None = None
        self.conversations = StateCache(kv_cache_mb * 2**20)
        self.shared = StateCache(shared_mb * 2**20)

    def forget(self) -> None:
        """The context was reset (after an error): it holds nobody's sequence."""
        self.owner = None

    def switch_to(self, llm: Any, key: str | None, shared: list[int]) -> str | None:
        """Make the context hold ``key``'s own sequence before prefilling; without one, only
        the ``shared`` tokens' saved state, or nothing. Returns the digest under which the
        shared tokens' state is still to be saved (None: nothing to save)."""
        if key is not None and key == self.owner:
            return None
        if self.owner is not None and llm.n_tokens > 0:
            self.conversations.put(self.owner, saved_state(llm))
        self.owner = key
        saved = self.conversations.take(key) if key is not None else None
        if saved is not None:
            llm.load_state(saved)
            return None
        llm.reset()
        if not shared:
            return None
        digest = hashlib.sha256(array("i", shared).tobytes()).hexdigest()
        state = self.shared.get(digest)
        if state is None:
            return digest
        llm.load_state(state)
        return None

    def save_shared(self, llm: Any, digest: str) -> None:
        """Keep the context's state now that it holds exactly the shared tokens."""
        self.shared.put(digest, saved_state(llm))


def saved_state(llm: Any) -> Any:
    """The context's state without its logits rows (one is kept for ``load_state``'s copy).

    llama-cpp-python copies its whole logits buffer into every saved state (32 rows × the
    vocabulary: ~19 MB for Qwen2.5), which the KV budget does not count; a restored state
    never needs them, since at least the prompt's last token is evaluated again."""
    state = llm.save_state()
    state.scores = state.scores[:1].copy()
    return state
