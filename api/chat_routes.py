"""``POST /api/chat`` — seed 003's chat function over HTTP, stored in the user's history.

Shapes the request's fields for ``services.chat.request`` and lets the chat service do
the rest (conversation, condensing, retrieval, window, storing). Stream events:
``{"text": delta, "message_id", "conversation_id"}`` …, then one last event that also
carries ``sources``, ``standalone_query`` and ``finish_reason``, then ``[DONE]``.
"""

from __future__ import annotations

import logging
from typing import Any, AsyncIterator

from fastapi import APIRouter, Depends

from api.auth import current_user, require_api_key
from api.deps import get_services
from api.document_routes import source_out
from api.errors import ERROR_RESPONSES, error_body, public_message
from api.schemas import ChatRequest, ChatResponse
from api.streaming import SSE_DONE, LiveTurn, event_stream, run_turn, sse_data, start_turn
from llm.types import Message
from rag.types import TurnRequest
from services import Services

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix="/api", tags=["chat"], dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES
)

_STREAM_DOC = {200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}}


def turn_request(body: ChatRequest, user: str, services: Services) -> TurnRequest:
    """Seed 003 fields → one turn (a history list replaces the stored one, an int limits it)."""
    history: list[Message] | None = None
    history_len = body.history_len
    if isinstance(body.history, list):
        history = [{"role": m.role, "content": m.content} for m in body.history]
    elif isinstance(body.history, int):
        history_len = body.history
    if body.model_name and body.model_name != services.llm.name:
        logger.debug("model_name %r requested; answering with %s", body.model_name, services.llm.name)
    return services.chat.request(
        user,
        body.query,
        temperature=body.temperature,
        max_new_tokens=body.max_tokens,
        conversation_id=body.conversation_id,
        new_conversation=body.new_conversation,
        use_rag=body.use_rag,
        document_ids=body.document_ids,
        k=body.k,
        history=history,
        history_len=history_len,
        prompt_name=body.prompt_name,
    )


async def _chat_events(turn: LiveTurn) -> AsyncIterator[dict[str, str]]:
    ids: dict[str, Any] = {
        "message_id": turn.stream.message_id,
        "conversation_id": turn.stream.conversation_id,
    }
    try:
        async for delta in turn.deltas():
            yield sse_data({"text": delta, **ids})
    except Exception as exc:  # after the 200 went out, an error can only be an event
        yield sse_data(error_body(public_message(exc, "chat stream"), "server_error"))
        yield SSE_DONE
        return
    result = turn.result
    yield sse_data(
        {
            "text": "",
            **ids,
            "sources": [source_out(s).model_dump() for s in (result.sources if result else [])],
            "standalone_query": result.standalone_query if result else "",
            "finish_reason": result.finish_reason if result else "cancelled",
            "warnings": result.warnings if result else [],
            "calculations": result.calculations if result else [],
        }
    )
    yield SSE_DONE


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses=_STREAM_DOC,
    summary="Ask a question in a stored conversation (seed 003)",
)
async def chat(
    body: ChatRequest,
    user: str = Depends(current_user),
    services: Services = Depends(get_services),
):
    request = turn_request(body, user, services)
    if body.stream:
        turn = await start_turn(services.chat, request)
        return event_stream(_chat_events(turn), turn)
    result = await run_turn(services.chat, request)
    return ChatResponse(
        text=result.text,
        message_id=result.message_id,
        conversation_id=result.conversation_id,
        standalone_query=result.standalone_query,
        sources=[source_out(s) for s in result.sources],
        finish_reason=result.finish_reason,
        warnings=result.warnings,
        calculations=result.calculations,
    )
