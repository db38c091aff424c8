"""The interface every answer strategy has, and the plainest one: the model alone.

A strategy finds the turn's passages (or a ready answer that needs no model), writes the
instructions and the question as the prompt carries them, and opens the model's stream.
``Turn`` (rag/turn.py) does the rest the same way for all of them: the token budget, the
history window, the time limit, the citation marks, the grounding check, the result.
"""

from __future__ import annotations

import threading
from typing import Any, Protocol

from llm.types import ChatBackend, GenerationParams, Message, TextStream
from rag.prompting import build_system_prompt, format_context, question_with_reminder
from rag.types import Source, TurnRequest
from settings import Settings


class Turn(Protocol):
    """What a strategy may read and set of the turn it answers (rag/turn.py ``Turn``)."""

    settings: Settings
    llm: ChatBackend
    passages: Any  # rag/turn.py Passages: the knowledge base, or a bench's stand-in
    req: TurnRequest
    params: GenerationParams
    question: str
    standalone: str  # the question as retrieval searched it (rag/condense.py)
    owner: str | None
    cancel: threading.Event
    sources: list[Source]
    calculations: list[Any]  # rag/calculator.py Calculation, appended by the compute strategy
    timings: dict[str, float]
    progress: tuple[int, int] | None

    def wants_rag(self) -> bool: ...

    def documents(self) -> list[Any]: ...

    def retrieve(self) -> list[Source]: ...


class AnswerStrategy:
    """Defaults shared by the strategies; each overrides what it does differently."""

    name = "chat"

    def find(self, turn: Turn) -> str | None:
        """Set ``turn.sources``; return a ready answer (no model call), or None to ask the model."""
        return None

    def instructions(self, turn: Turn, base: str) -> str:
        """The system prompt: the configured one, then what this strategy asks of the model."""
        return build_system_prompt(base, turn.question, turn.sources)

    def question(self, turn: Turn) -> str:
        """The question as the prompt's last message carries it."""
        return question_with_reminder(turn.question, turn.sources)

    def context(self, turn: Turn) -> str:
        """The numbered passages block (llm/window.py may shorten it to fit)."""
        return format_context(turn.sources)

    def generate(self, turn: Turn, messages: list[Message], params: GenerationParams) -> TextStream:
        """The model's answer to the built prompt."""
        return turn.llm.stream(messages, params, turn.cancel)

    def answer_from_code(self, turn: Turn) -> str:
        """What code worked out for the question and can state itself when the model's answer
        says nothing (only marks, or a decline): "" for strategies that work nothing out."""
        return ""


class ChatOnly(AnswerStrategy):
    """No documents, RAG off, or the 'chat' prompt: the model answers from the conversation."""
