"""OpenAI-compatible ``/v1/models`` and ``/v1/chat/completions`` (seed 004's openai_api.py, vLLM).

Stateless: nothing is stored, the request's messages are the whole conversation.
It still goes through the turn pipeline (``persist=False``, ``history`` = the earlier
messages, ``use_rag`` default false) so the token window and retrieval are the same
code as the UI's. System/developer messages replace docchat's system prompt. Stop
strings are cut by the backend in both modes (a stop string split across tokens is
never shown), and generation halts as soon as one appears.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any, AsyncIterator

from fastapi import APIRouter, Depends, Request
from openai.types import CompletionUsage, Model
from openai.types.chat import ChatCompletionChunk, ChatCompletionMessage
from openai.types.chat.chat_completion import Choice
from openai.types.chat.chat_completion_chunk import Choice as ChunkChoice
from openai.types.chat.chat_completion_chunk import ChoiceDelta

from api.auth import current_user, require_api_key
from api.deps import get_services
from api.document_routes import source_out
from api.errors import ERROR_RESPONSES, ApiError, error_body, public_message
from api.openai_schemas import ChatCompletion, ChatCompletionRequest, ModelList
from api.streaming import SSE_DONE, LiveTurn, event_stream, run_turn, sse_data, start_turn
from llm.types import Message, Usage
from rag.types import TurnRequest, TurnResult
from services import Services
from services.calculation_notes import result_calculations_text

logger = logging.getLogger(__name__)

router = APIRouter(
    prefix="/v1", tags=["openai"], dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES
)

_STREAM_DOC = {200: {"content": {"text/event-stream": {"schema": {"type": "string"}}}}}


def finish_reason(pipeline_reason: str) -> str:
    """OpenAI knows 'stop' and 'length'; an answer cut by the time limit reads as 'length'."""
    return "stop" if pipeline_reason == "stop" else "length"


def turn_request(body: ChatCompletionRequest, user: str, services: Services) -> TurnRequest:
    """Last message → the question; earlier user/assistant messages → history; system → prompt."""
    *earlier, last = body.messages
    if last.role != "user" or not last.text().strip():
        raise ApiError(400, "The last message must be a non-empty 'user' message.")
    system = "\n\n".join(m.text() for m in earlier if m.role in ("system", "developer") and m.text().strip())
    history: list[Message] = [
        {"role": m.role, "content": m.text()} for m in earlier if m.role in ("user", "assistant")
    ]
    return services.chat.request(
        user,
        last.text(),
        max_new_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature,
        top_p=body.top_p,
        top_k=body.top_k,
        repetition_penalty=body.repetition_penalty,
        stop=body.stop_strings(),
        seed=body.seed,
        use_rag=body.use_rag,
        document_ids=body.document_ids,
        k=body.k,
        history=history,
        system_prompt=system or None,
        persist=False,
    )


def usage_out(usage: Usage, prompt_tokens_fallback: int = 0) -> CompletionUsage:
    prompt = usage.prompt_tokens or prompt_tokens_fallback
    return CompletionUsage(
        prompt_tokens=prompt,
        completion_tokens=usage.completion_tokens,
        total_tokens=prompt + usage.completion_tokens,
    )


def completion(result: TurnResult, body: ChatCompletionRequest, model: str) -> ChatCompletion:
    return ChatCompletion(
        id=f"chatcmpl-{uuid.uuid4().hex}",
        object="chat.completion",
        created=int(time.time()),
        model=model,
        choices=[Choice(
            index=0,
            message=ChatCompletionMessage(role="assistant", content=result.text + result_calculations_text(result)),
            finish_reason=finish_reason(result.finish_reason),
        )],
        usage=usage_out(result.usage, result.prompt_tokens),
        sources=[source_out(s) for s in result.sources] if body.use_rag else None,
        warnings=result.warnings or None,
        calculations=result.calculations or None,
    )




async def _chunks(turn: LiveTurn, body: ChatCompletionRequest, model: str) -> AsyncIterator[dict[str, str]]:
    base: dict[str, Any] = {
        "id": f"chatcmpl-{uuid.uuid4().hex}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }

    def event(choices: list[ChunkChoice], **extra: Any) -> dict[str, str]:
        """One chunk as OpenAI streams it: the fields we set, ``finish_reason: null`` included."""
        return sse_data(ChatCompletionChunk(**base, choices=choices, **extra).model_dump(mode="json", exclude_unset=True))

    def chunk(delta: ChoiceDelta, reason: str | None = None, **extra: Any) -> dict[str, str]:
        return event([ChunkChoice(index=0, delta=delta, finish_reason=reason)], **extra)

    yield chunk(ChoiceDelta(role="assistant", content=""))
    try:
        async for delta in turn.deltas():
            yield chunk(ChoiceDelta(content=delta))
    except Exception as exc:  # the 200 is out: report it the way OpenAI streams errors
        yield sse_data(error_body(public_message(exc, "chat completion stream"), "server_error"))
        yield SSE_DONE
        return
    result = turn.result
    if notes := result_calculations_text(result):
        yield chunk(ChoiceDelta(content=notes))
    extra: dict[str, Any] = {}
    if body.use_rag and result is not None:
        extra["sources"] = [source_out(s).model_dump() for s in result.sources]
        extra["calculations"] = result.calculations
    yield chunk(ChoiceDelta(), finish_reason(result.finish_reason if result else "cancelled"), **extra)
    if body.stream_options and body.stream_options.include_usage and result is not None:
        yield event([], usage=usage_out(result.usage, result.prompt_tokens))
    yield SSE_DONE


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    response_model_exclude_none=True,
    responses=_STREAM_DOC,
    summary="OpenAI-compatible chat completion",
)
async def chat_completions(
    body: ChatCompletionRequest,
    user: str = Depends(current_user),
    services: Services = Depends(get_services),
):
    request = turn_request(body, user, services)
    model = services.llm.name
    if body.stream:
        turn = await start_turn(services.chat, request)
        return event_stream(_chunks(turn, body, model), turn)
    result = await run_turn(services.chat, request)
    return completion(result, body, model)


def _card(request: Request, services: Services) -> Model:
    return Model(id=services.llm.name, object="model", created=request.app.state.started_at, owned_by="docchat")


@router.get("/models", response_model=ModelList, response_model_exclude_none=True,
            summary="The chat model this server answers with")
async def list_models(request: Request, services: Services = Depends(get_services)) -> ModelList:
    return ModelList(data=[_card(request, services)])


@router.get("/models/{model_id:path}", response_model=Model, response_model_exclude_none=True, summary="One model")
async def get_model(model_id: str, request: Request, services: Services = Depends(get_services)) -> Model:
    if model_id != services.llm.name:
        raise ApiError(404, f"No model {model_id!r}; this server serves {services.llm.name!r}.")
    return _card(request, services)
