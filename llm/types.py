"""Domain types shared by every chat backend.

A backend is anything with the small ``ChatBackend`` protocol below; the pipeline, the
UI and the HTTP API only ever see this protocol, so a local transformers model and a
remote vLLM server are interchangeable.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Iterator, Protocol, TypedDict

from errors import DocchatError, InternalError
from settings import Settings

_DEFAULTS = Settings.model_fields  # one place for every default (DESIGN.md §8)


class Message(TypedDict):
    role: str  # "system" | "user" | "assistant"
    content: str


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters (seed 002 semantics: top_p and top_k are exclusive).

    The defaults are Settings' own, so ``GenerationParams()`` samples like the app does.
    """

    max_new_tokens: int = _DEFAULTS["max_new_tokens"].default
    temperature: float = _DEFAULTS["temperature"].default
    top_p: float = _DEFAULTS["top_p"].default
    top_k: int = _DEFAULTS["top_k"].default
    repetition_penalty: float = _DEFAULTS["repetition_penalty"].default
    stop: tuple[str, ...] = ()
    seed: int | None = None  # sampling seed; None = a fresh one each call
    # Who may reuse this prompt's cached prefix (one user's one conversation); None: no reuse.
    cache_key: str | None = None
    # The start of the first message that is the same for every user (the server's own system
    # prompt and instructions): its KV may serve any conversation's first turn. "" = none.
    shared_prefix: str = ""
    # Text the assistant's answer already starts with: the model continues it (the calculator's
    # stop-evaluate-continue loop, rag/calculator.py). The prompt is the rendered messages,
    # assistant header included, followed by this text; "" = a fresh answer.
    assistant_prefix: str = ""
    # LoRA adapter role for this call ("condense"); None = an answer (llm/adapters.py).
    adapter: str | None = None

    @property
    def greedy(self) -> bool:
        """Temperature ~0 means deterministic decoding."""
        return self.temperature < 1e-3


@dataclass
class Usage:
    """Token accounting of one generation (seed 001's generated_tokens_count)."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str = "stop"  # "stop" | "length" | "cancelled"
    cached_prompt_tokens: int = 0  # prompt tokens whose KV came from the prefix cache
    stopped_by: str = ""  # the stop string that ended it ("" : the model's end, the length, a cancel)
    # Speculative decoding (llm/speculation.py): tokens guessed by the drafter, those of them the
    # model sampled too, and the answer's forward passes (completion_tokens / forward_passes =
    # tokens per pass); 0 where a backend does not speculate.
    draft_tokens: int = 0
    accepted_draft_tokens: int = 0
    forward_passes: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)


class TextStream(Iterator[str]):
    """Iterator of text deltas whose ``usage`` is complete once it is exhausted."""

    def __init__(self, deltas: Iterator[str], usage: Usage) -> None:
        self._deltas = deltas
        self.usage = usage

    def __iter__(self) -> "TextStream":
        return self

    def __next__(self) -> str:
        return next(self._deltas)


def collect(stream: TextStream) -> Completion:
    """The whole answer of ``stream`` (``complete`` of the local backends)."""
    text = "".join(stream)
    return Completion(text=text, usage=stream.usage)


class BackendBusy(DocchatError, RuntimeError):
    """Too many requests are already waiting for the model; the caller should retry later."""

    http_status = 503
    ui_key = "busy"


class ChatBackend(Protocol):
    """What the rest of docchat needs from a chat model."""

    name: str
    context_window: int
    device: str  # "cpu", "cuda", "remote" (#model-info, /healthz)
    engine: str  # "llama.cpp", "transformers", "OpenAI-compatible server"

    def stream(
        self,
        messages: list[Message],
        params: GenerationParams,
        cancel: threading.Event | None = None,
    ) -> TextStream:
        """Yield text deltas; setting ``cancel`` stops generation at once and frees the model."""
        ...

    def complete(self, messages: list[Message], params: GenerationParams) -> Completion: ...

    def count_tokens(self, messages: list[Message]) -> int:
        """Tokens of ``messages`` rendered with the model's chat template."""
        ...

    def count_text_tokens(self, text: str) -> int: ...

    def truncate_text(self, text: str, max_tokens: int) -> str:
        """Cut ``text`` to at most ``max_tokens`` tokens (used for over-long single messages)."""
        ...


class ModelNotFound(InternalError, RuntimeError):
    """A configured model (path, bundled package, assembled file) is not there; the message says what to install or fix."""


class PromptTooLong(DocchatError, ValueError):
    """The prompt leaves no room for an answer in the model's context window."""

    ui_key = "prompt_too_long"
