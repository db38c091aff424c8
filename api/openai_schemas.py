"""OpenAI chat-completions bodies (the subset docchat serves) plus docchat's extras.

Requests: our own models (the ``openai`` package has TypedDicts for them, not pydantic
models). Unknown fields are ignored, as OpenAI-compatible servers do (clients send
``user``, ``logprobs``...); fields we cannot honour with a different value (``n > 1``,
non-text content parts) are refused with a clear 4xx instead of being silently wrong.

Responses: the ``openai`` package's own types (``ChatCompletion``, ``ChatCompletionChunk``,
``CompletionUsage``, ``Model``), so the shapes are OpenAI's by construction; their null
fields are left out of the body.
"""

from __future__ import annotations

from typing import Any, Literal

from openai.types import Model
from openai.types import chat as openai_chat
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.schemas import MAX_DOCUMENT_IDS, SourceOut

MAX_MESSAGES = 1_000
MAX_CONTENT_CHARS = 128_000


class TextPart(BaseModel):
    model_config = ConfigDict(extra="ignore")

    type: Literal["text"]
    text: str


class ChatMessageIn(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text for part in self.content)
        return self.content or ""

    @field_validator("content")
    @classmethod
    def _bounded(cls, value: Any) -> Any:
        size = len(value) if isinstance(value, str) else sum(len(p.text) for p in value or [])
        if size > MAX_CONTENT_CHARS:
            raise ValueError(f"at most {MAX_CONTENT_CHARS} characters per message")
        return value


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str | None = Field(None, max_length=200, description="Accepted; the server's model answers.")
    messages: list[ChatMessageIn] = Field(min_length=1, max_length=MAX_MESSAGES)
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    top_p: float | None = Field(None, ge=0.0, le=1.0)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1, description="Newer name of max_tokens.")
    stop: str | list[str] | None = Field(None, description="Up to 4 strings; the answer ends before the first.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    n: int = Field(1, ge=1, le=1, description="Only 1 is supported.")
    seed: int | None = Field(None, ge=0, le=2**32 - 1, description="Sampling seed: the same seed and prompt give the same answer (llama.cpp).")
    # docchat extras
    top_k: int | None = Field(None, ge=0, le=1000, description="0 = off; > 0 switches top_p off.")
    repetition_penalty: float | None = Field(None, ge=0.5, le=2.0)
    use_rag: bool = Field(False, description="Answer from the documents; the reply then carries `sources`.")
    document_ids: list[str] | None = Field(None, max_length=MAX_DOCUMENT_IDS)
    k: int | None = Field(None, ge=1, le=50, description="Chunks to retrieve with use_rag.")

    @field_validator("stop")
    @classmethod
    def _stop_list(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop strings")
        return value

    def stop_strings(self) -> tuple[str, ...]:
        if self.stop is None:
            return ()
        items = [self.stop] if isinstance(self.stop, str) else self.stop
        return tuple(s for s in items if s)


class ChatCompletion(openai_chat.ChatCompletion):
    """OpenAI's chat completion plus docchat's extras."""

    sources: list[SourceOut] | None = Field(None, description="With use_rag: the chunks the answer used.")
    warnings: list[str] | None = Field(None, description="E.g. max_tokens lowered so the question fits.")
    calculations: list[dict[str, Any]] | None = Field(
        None, description="What the answer computed (as in /api/chat); also written as text after the answer.")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[Model]
