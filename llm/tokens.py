"""Token counting: with a real Hugging Face tokenizer when we have one, else an estimate.

``TokenCounter`` wraps a tokenizer behind a lock (fast tokenizers are not safe to call
from several threads at once) and renders messages with the model's chat template, so
the history window counts exactly what the model will see.

Without a tokenizer (a remote server whose tokenizer is not cached here) we estimate:
every CJK character (Han, kana, Hangul, full-width punctuation) counts as one token,
other text as one token per 4 characters (rounded up), plus 4 tokens of framing per
chat message and 3 for the assistant's reply header — the usual ChatML overhead.
"""

from __future__ import annotations

import logging
import math
import threading
from typing import Any

from llm.types import Message

logger = logging.getLogger(__name__)

MESSAGE_OVERHEAD_TOKENS = 4
REPLY_OVERHEAD_TOKENS = 3
CHARS_PER_TOKEN = 4

_CJK_RANGES = (
    (0x3000, 0x303F),  # CJK punctuation
    (0x3040, 0x30FF),  # hiragana, katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xAC00, 0xD7AF),  # Hangul syllables
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0xFF00, 0xFFEF),  # full-width forms
    (0x20000, 0x2FA1F),  # CJK extensions B..F, compatibility supplement
)


def is_cjk(char: str) -> bool:
    code = ord(char)
    return any(lo <= code <= hi for lo, hi in _CJK_RANGES)


def approx_text_tokens(text: str) -> int:
    """Estimated tokens of ``text``: CJK characters 1 each, other text ~4 characters each."""
    cjk = sum(1 for c in text if is_cjk(c))
    return cjk + math.ceil((len(text) - cjk) / CHARS_PER_TOKEN)


def approx_message_tokens(messages: list[Message]) -> int:
    """Estimated prompt tokens of chat ``messages`` (content + per-message framing + reply header)."""
    if not messages:
        return 0
    body = sum(approx_text_tokens(m["content"]) + MESSAGE_OVERHEAD_TOKENS for m in messages)
    return body + REPLY_OVERHEAD_TOKENS


def approx_truncate(text: str, max_tokens: int) -> str:
    """Longest prefix of ``text`` whose estimate is at most ``max_tokens``."""
    if max_tokens <= 0:
        return ""
    cjk = other = 0
    for i, char in enumerate(text):
        if is_cjk(char):
            cjk += 1
        else:
            other += 1
        if cjk + math.ceil(other / CHARS_PER_TOKEN) > max_tokens:
            return text[:i]
    return text


def load_local_tokenizer(source: str, **kwargs: Any) -> Any | None:
    """The tokenizer of ``source`` when it can be loaded without the network, else None."""
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(source, local_files_only=True, **kwargs)
    except Exception as exc:  # not cached, not a HF name, broken files: all mean "estimate"
        logger.debug("no local tokenizer for %s: %s", source, exc)
        return None


class TokenCounter:
    """Thread-safe counting and truncation with a Hugging Face tokenizer."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer
        self._lock = threading.Lock()

    def encode_chat(self, messages: list[Message], add_generation_prompt: bool = True) -> list[int]:
        """Token ids of ``messages`` rendered with the chat template (plain join if there is none)."""
        plain = [{"role": m["role"], "content": m["content"]} for m in messages]
        with self._lock:
            if getattr(self.tokenizer, "chat_template", None):
                rendered = self.tokenizer.apply_chat_template(
                    plain, tokenize=False, add_generation_prompt=add_generation_prompt
                )
            else:
                rendered = "".join(f"{m['role']}: {m['content']}\n" for m in plain)
                rendered += "assistant: " if add_generation_prompt else ""
            return list(self.tokenizer(rendered, add_special_tokens=False)["input_ids"])

    def count_messages(self, messages: list[Message]) -> int:
        """Prompt tokens of ``messages``, including the assistant header the model will get."""
        return len(self.encode_chat(messages)) if messages else 0

    def count_text(self, text: str) -> int:
        with self._lock:
            return len(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def truncate(self, text: str, max_tokens: int) -> str:
        """Longest prefix of ``text`` of at most ``max_tokens`` tokens (cut on a token boundary)."""
        if max_tokens <= 0:
            return ""
        with self._lock:
            try:
                encoded = self.tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
            except NotImplementedError:  # slow tokenizers have no offsets: decode the prefix
                ids = self.tokenizer(text, add_special_tokens=False)["input_ids"]
                return text if len(ids) <= max_tokens else self.tokenizer.decode(ids[:max_tokens])
        ids = encoded["input_ids"]
        if len(ids) <= max_tokens:
            return text
        return text[: encoded["offset_mapping"][max_tokens - 1][1]]

    def decode(self, ids: list[int]) -> str:
        with self._lock:
            return self.tokenizer.decode(ids, skip_special_tokens=True)
