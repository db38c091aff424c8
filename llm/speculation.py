"""Draft tokens for speculative decoding in the llama.cpp backend (``DOCCHAT_SPECULATION``).

Decoding on a CPU is memory-bound: each token is one pass over all the weights, and a pass
that checks a few tokens at once costs little more than a pass for one. A drafter guesses
the next few tokens cheaply; the backend evaluates them together with the token it just
sampled and keeps the guesses the model itself samples (llm/llamacpp_backend.py). What the
drafter proposes changes only the speed, never the text: every kept token is the one the
model samples at that position.

- ``PromptLookup`` ("prompt-lookup"): a RAG answer copies names, figures and phrases from
  its passages, so the tokens that followed the last few tokens where they appeared earlier
  in the context are good guesses (apoorvumang/prompt-lookup-decoding; Hugging Face's
  ``prompt_lookup_num_tokens``). No model, no memory, microseconds a draft.
- ``DraftModel`` ("draft-model"): a small model of the same family and tokenizer (the bundled
  Qwen2.5-Coder-0.5B) decodes the guesses greedily with its own KV cache.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol, Sequence

import numpy as np

logger = logging.getLogger(__name__)

SPECULATION_CHOICES = ("off", "prompt-lookup", "draft-model")
PROMPT_LOOKUP_TOKENS = 10  # most tokens drafted a pass; the backend adapts how many it checks
PROMPT_LOOKUP_NGRAM = 3  # longest n-gram looked up; shorter ones are tried when it is not found
DRAFT_MODEL_TOKENS = 4


class Drafter(Protocol):
    def draft(self, context: np.ndarray, limit: int) -> list[int]:
        """At most ``limit`` guesses for the tokens after ``context`` (the prompt and the answer so
        far); [] = none."""
        ...


class PromptLookup:
    """Drafts the tokens that followed the latest earlier occurrence of the context's last
    n-gram (the longest of ``max_ngram`` .. 1 tokens that occurs)."""

    def __init__(self, num_pred_tokens: int = PROMPT_LOOKUP_TOKENS, max_ngram: int = PROMPT_LOOKUP_NGRAM) -> None:
        self.num_pred_tokens = num_pred_tokens
        self.max_ngram = max_ngram

    def draft(self, context: np.ndarray, limit: int) -> list[int]:
        return lookup(context, self.max_ngram, min(limit, self.num_pred_tokens))


def lookup(context: np.ndarray, max_ngram: int, n: int) -> list[int]:
    """Up to ``n`` tokens that followed the latest earlier occurrence of ``context``'s last
    ``max_ngram`` .. 1 tokens (the longest n-gram wins)."""
    length = len(context)
    for size in range(min(max_ngram, length - 1), 0, -1):
        windows = np.lib.stride_tricks.sliding_window_view(context[:-1], size)  # the last n-gram itself left out
        hits = np.flatnonzero((windows == context[-size:]).all(axis=1))
        if len(hits):
            start = int(hits[-1]) + size
            return context[start: start + n].tolist()
    return []


class DraftModel:
    """Greedy guesses from a second, smaller GGUF with the same tokenizer, run in this process.

    Its KV cache follows the target's context by common prefix, so the first draft of an
    answer prefills the whole prompt on the small model (after the first token is out) and
    later drafts evaluate only the tokens the target accepted since.
    """

    def __init__(self, model_path: str | Path, *, threads: int, context_window: int,
                 num_pred_tokens: int = DRAFT_MODEL_TOKENS) -> None:
        from llama_cpp import Llama

        self.model_path = Path(model_path)
        self.num_pred_tokens = num_pred_tokens
        self._llm = Llama(model_path=str(model_path), n_ctx=context_window, n_threads=threads,
                          n_threads_batch=threads, n_batch=512, verbose=False)

    def draft(self, context: np.ndarray, limit: int) -> list[int]:
        llm = self._llm
        n = min(self.num_pred_tokens, limit, llm.n_ctx() - len(context) - 1)
        if n <= 0:
            return []
        have = llm.input_ids[: llm.n_tokens]
        same = int(np.argmin(np.append(have[: len(context)] == context[: len(have)], False)))
        same = min(same, len(context) - 1)  # the last token is evaluated again for its logits
        if same == 0 or not llm._ctx.kv_cache_seq_rm(-1, same, -1):
            same = 0
            llm.reset()
        llm.n_tokens = same
        llm.eval(context[same:].tolist())
        guesses: list[int] = []
        while True:
            token = _argmax(llm)
            guesses.append(token)
            if len(guesses) >= n:
                return guesses
            llm.eval([token])


def _argmax(llm: Any) -> int:
    from llama_cpp import llama_cpp as C

    logits = np.ctypeslib.as_array(C.llama_get_logits_ith(llm._ctx.ctx, -1), shape=(llm.n_vocab(),))
    return int(np.argmax(logits))


def make_drafter(speculation: str, *, draft_model_path: str | Path | None = None, threads: int = 1,
                 context_window: int = 8192, num_pred_tokens: int | None = None) -> Drafter | None:
    """The drafter for a ``DOCCHAT_SPECULATION`` value; None for "off"."""
    if speculation not in SPECULATION_CHOICES:
        raise ValueError(f"speculation must be one of {', '.join(SPECULATION_CHOICES)}, not {speculation!r}")
    if speculation == "off":
        return None
    if speculation == "prompt-lookup":
        return PromptLookup(num_pred_tokens or PROMPT_LOOKUP_TOKENS)
    if draft_model_path is None:
        raise ValueError("speculation 'draft-model' needs the draft model's GGUF file")
    return DraftModel(draft_model_path, threads=threads, context_window=context_window,
                      num_pred_tokens=num_pred_tokens or DRAFT_MODEL_TOKENS)
