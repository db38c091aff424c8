"""The one place a skin's fields plus the Settings become a ``TurnRequest``.

Every skin (the Gradio chat, ``/api/chat``, ``/v1/chat/completions``, seed 002's
``/sse/subscribe``, the MCP ``ask`` tool, seed 000's ``handle_message``) shapes its own
wire format into plain fields — which message is the question, which are history — and
hands them here. The rule for what a field left out means lives only here: a sampling
field that is None, or a length of 0 or less, is the server's setting.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from llm.types import GenerationParams
from rag.types import TurnRequest
from settings import Settings

SAMPLING_FIELDS = frozenset(f.name for f in fields(GenerationParams)) - {"cache_key", "adapter", "shared_prefix"}


def generation_params(settings: Settings, **overrides: Any) -> GenerationParams:
    """The settings' sampling with the caller's overrides; None (or a length <= 0) keeps the setting."""
    base = GenerationParams(
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        top_k=settings.top_k,
        repetition_penalty=settings.repetition_penalty,
    )
    given = {name: value for name, value in overrides.items() if value is not None}
    if given.get("max_new_tokens", 1) <= 0:
        del given["max_new_tokens"]
    if "stop" in given:
        given["stop"] = tuple(given["stop"] or ())
    return replace(base, **given)


def turn_request(settings: Settings, user_id: str, text: str, **fields: Any) -> TurnRequest:
    """One turn: the sampling fields (``temperature``, ``top_p``, ``top_k``, ``max_new_tokens``,
    ``repetition_penalty``, ``stop``, ``seed``) become its parameters, the rest (``conversation_id``,
    ``history``, ``use_rag``, ``k``, ...) are ``TurnRequest``'s own."""
    sampling = {name: fields.pop(name) for name in list(fields) if name in SAMPLING_FIELDS}
    return TurnRequest(user_id=user_id, text=text, params=generation_params(settings, **sampling), **fields)

