"""A fake chat backend for fast unit tests of the pipeline's logic (like simonw/llm's MockModel).

``FakeChatBackend`` satisfies ``llm.types.ChatBackend``: answers are canned chunks queued
with ``enqueue()`` (a default answer when the queue is empty), every ``stream``/``complete``
call is recorded with its messages and parameters, and tokens are whitespace-separated
words so budgets are easy to reason about in a test. End-to-end tests keep the real
bundled model; this one only lets the pipeline's own decisions (condense or not, which
turns fit, what is stored) be checked exactly and in milliseconds.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterator, Literal

from llm.types import Completion, GenerationParams, Message, TextStream, Usage
from rag.condense import QUERY_SYSTEM_EN, QUERY_SYSTEM_ZH

TEMPLATE_TOKENS_PER_MESSAGE = 2  # a role marker and an end marker, as a chat template adds


def is_search_plan_call(messages: list[Message]) -> bool:
    return bool(messages) and messages[0]["content"] in (QUERY_SYSTEM_EN, QUERY_SYSTEM_ZH)


@dataclass
class FakeCall:
    """One request the pipeline made to the model."""

    kind: Literal["stream", "complete"]
    messages: list[Message]
    params: GenerationParams
    cancel: threading.Event | None = None


@dataclass
class FakeChatBackend:
    """Canned answers, recorded calls, word-count tokens."""

    name: str = "fake-chat"
    context_window: int = 2048
    device: str = "cpu"
    engine: str = "fake"
    default_answer: tuple[str, ...] = ("A ", "canned ", "answer.")
    calls: list[FakeCall] = field(default_factory=list)
    _queue: list[list[str]] = field(default_factory=list)
    _plans: list[str] = field(default_factory=list)

    def enqueue(self, chunks: list[str]) -> None:
        """The next ``stream``/``complete`` call answers with these chunks (FIFO)."""
        self._queue.append(list(chunks))

    def plan(self, output: str) -> None:
        """The next search-plan call (rag/condense.py) answers ``output``; without one it
        answers "" (no phrasings, the question as asked), leaving the answer queue alone."""
        self._plans.append(output)

    def _next_chunks(self) -> list[str]:
        return self._queue.pop(0) if self._queue else list(self.default_answer)

    # --- ChatBackend --------------------------------------------------------------------
    def stream(
        self, messages: list[Message], params: GenerationParams, cancel: threading.Event | None = None
    ) -> TextStream:
        self.calls.append(FakeCall("stream", [dict(m) for m in messages], params, cancel))  # type: ignore[misc]
        chunks = self._next_chunks()[: max(params.max_new_tokens, 0)]
        usage = Usage(prompt_tokens=self.count_tokens(messages))

        def deltas() -> Iterator[str]:
            for chunk in chunks:
                if cancel is not None and cancel.is_set():
                    usage.finish_reason = "cancelled"
                    return
                usage.completion_tokens += 1
                yield chunk
            usage.finish_reason = "length" if len(chunks) == params.max_new_tokens else "stop"

        return TextStream(deltas(), usage)

    def complete(self, messages: list[Message], params: GenerationParams) -> Completion:
        self.calls.append(FakeCall("complete", [dict(m) for m in messages], params))  # type: ignore[misc]
        if is_search_plan_call(messages):  # the condense step: its own queue, empty by default
            chunks = [self._plans.pop(0)] if self._plans else [""]
            return Completion("".join(chunks), Usage(self.count_tokens(messages), len(chunks)))
        chunks = self._next_chunks()
        return Completion("".join(chunks), Usage(self.count_tokens(messages), len(chunks)))

    def count_tokens(self, messages: list[Message]) -> int:
        return sum(self.count_text_tokens(m["content"]) + TEMPLATE_TOKENS_PER_MESSAGE for m in messages)

    def count_text_tokens(self, text: str) -> int:
        return len(text.split())

    def truncate_text(self, text: str, max_tokens: int) -> str:
        return " ".join(text.split()[: max(max_tokens, 0)])

    # --- what tests ask -----------------------------------------------------------------
    def calls_of(self, kind: Literal["stream", "complete"]) -> list[FakeCall]:
        return [c for c in self.calls if c.kind == kind]
