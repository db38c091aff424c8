"""``POST /sse/subscribe`` — seed 002 (YuanChat) exactly: its request, its event envelope.

Request: ``messages`` is a list of ``{question, answer}`` pairs; the last question is
the one to answer (its answer is ignored, "" by convention), earlier pairs are the
history (pairs with an empty answer are skipped). ``response_length`` [0, 8000]
default 5000 (0 = the server's default length), ``temperature`` [0, 1] default 0.6,
``top_p`` [0, 1] default 0.95, ``top_k`` [0, 10] default 0.

top_p / top_k "cannot both be active": 0 switches either off, and when ``top_k > 0``
it wins and top_p is switched off (the backends' ``sampling_kwargs`` rule). So the
seed README's example (top_p 0.9 with top_k 10) samples with top-k 10 only.

Every event is ``{"errCode", "errMessage", "exceptionMsg", "flag", "resData":
{"message", "time"}}`` with ``time`` in 13-digit epoch milliseconds. Success events
carry the answer's text deltas in ``resData.message`` (concatenate them) with
``flag: true`` and empty codes. Invalid input, a busy model or a failed generation
give one event with ``flag: false`` and a specific ``errCode`` — always HTTP 200, as
YuanChat's clients expect (only a wrong API key is an HTTP 401).

The turn is stateless (the client sends the history) and uses the documents when
there are any (``use_rag``, a docchat extra, default true).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, AsyncIterator, Callable

from fastapi import APIRouter, Depends
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from starlette.requests import Request
from sse_starlette import EventSourceResponse
from starlette.responses import Response

from api.auth import current_user, require_api_key
from api.deps import get_services
from api.errors import ERROR_RESPONSES, is_malformed_json, public_message
from api.streaming import LiveTurn, event_stream, start_turn
from errors import DocchatError
from llm.types import BackendBusy, Message, PromptTooLong
from rag.types import TurnRequest
from services import Services

logger = logging.getLogger(__name__)

MAX_ROUNDS = 200  # the seed advises <= 10 rounds; the token window trims what does not fit

# errCode values (success events have errCode "").
INVALID_JSON = "INVALID_JSON"
INVALID_BODY = "INVALID_BODY"
INVALID_MESSAGES = "INVALID_MESSAGES"
INVALID_RESPONSE_LENGTH = "INVALID_RESPONSE_LENGTH"
INVALID_TEMPERATURE = "INVALID_TEMPERATURE"
INVALID_TOP_P = "INVALID_TOP_P"
INVALID_TOP_K = "INVALID_TOP_K"
INVALID_USE_RAG = "INVALID_USE_RAG"
SERVER_BUSY = "SERVER_BUSY"
PROMPT_TOO_LONG = "PROMPT_TOO_LONG"
INFERENCE_ERROR = "INFERENCE_ERROR"

_CODE_BY_FIELD = {
    "messages": INVALID_MESSAGES,
    "response_length": INVALID_RESPONSE_LENGTH,
    "temperature": INVALID_TEMPERATURE,
    "top_p": INVALID_TOP_P,
    "top_k": INVALID_TOP_K,
    "use_rag": INVALID_USE_RAG,
}


class QuestionAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    question: str = Field(min_length=1, description="The user's question")
    answer: str = Field("", description="The earlier answer to it; '' for the last question")


class SubscribeRequest(BaseModel):
    """Seed 002's request body."""

    model_config = ConfigDict(extra="ignore")

    messages: list[QuestionAnswer] = Field(min_length=1, max_length=MAX_ROUNDS)
    response_length: int = Field(5000, ge=0, le=8000, description="Most answer tokens; 0 = server default")
    temperature: float = Field(0.6, ge=0.0, le=1.0)
    top_p: float = Field(0.95, ge=0.0, le=1.0, description="0 = off; off whenever top_k > 0")
    top_k: int = Field(0, ge=0, le=10, description="0 = off; when > 0 it replaces top_p")
    use_rag: bool = Field(True, description="docchat extra: answer from the documents when there are any")


def envelope(message: str, flag: bool = True, code: str = "", err: str = "", exception: str = "") -> dict[str, Any]:
    return {
        "errCode": code,
        "errMessage": err,
        "exceptionMsg": exception,
        "flag": flag,
        "resData": {"message": message, "time": int(time.time() * 1000)},
    }


def _event(payload: dict[str, Any]) -> dict[str, str]:
    return {"data": json.dumps(payload, ensure_ascii=False)}


def failure(code: str, message: str, exception: str = "") -> dict[str, Any]:
    """The one ``flag: false`` event; ``resData.message`` repeats the message for chat UIs."""
    return envelope(message, flag=False, code=code, err=message, exception=exception)


def validation_failure(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """Name the first bad field with its own errCode."""
    if is_malformed_json(errors):
        return failure(INVALID_JSON, "The request body is not valid JSON.")
    first = errors[0] if errors else {}
    loc = [str(p) for p in first.get("loc", ()) if p != "body"]
    code = _CODE_BY_FIELD.get(loc[0], INVALID_BODY) if loc else INVALID_BODY
    where = ".".join(loc) or "body"
    return failure(code, f"Invalid {where}: {first.get('msg', 'invalid value')}", exception=json.dumps(
        [{"loc": e.get("loc"), "msg": e.get("msg")} for e in errors[:5]], ensure_ascii=False, default=str
    ))


async def _single(payload: dict[str, Any]) -> AsyncIterator[dict[str, str]]:
    yield _event(payload)


class Seed002Route(APIRoute):
    """Answers request-validation errors as one ``flag: false`` event with HTTP 200 (seed 002)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def seed002_handler(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                return event_stream(_single(validation_failure(list(exc.errors()))))

        return seed002_handler


router = APIRouter(
    tags=["seed 002"],
    dependencies=[Depends(require_api_key)],
    responses={401: ERROR_RESPONSES[401]},
    route_class=Seed002Route,
)


def turn_request(body: SubscribeRequest, user: str, services: Services) -> TurnRequest:
    """Last question → the query; earlier answered pairs → the history."""
    *earlier, last = body.messages
    history: list[Message] = []
    for pair in earlier:
        if pair.answer.strip():
            history += [{"role": "user", "content": pair.question}, {"role": "assistant", "content": pair.answer}]
    return services.chat.request(
        user, last.question, max_new_tokens=body.response_length, temperature=body.temperature, top_p=body.top_p,
        top_k=body.top_k, use_rag=body.use_rag, history=history, persist=False,
    )


async def _answer_events(turn: LiveTurn) -> AsyncIterator[dict[str, str]]:
    sent = False
    try:
        async for delta in turn.deltas():
            sent = True
            yield _event(envelope(delta))
    except Exception as exc:  # the 200 is out: report it the seed's way
        yield _event(failure(INFERENCE_ERROR, "Generation failed, please retry.", public_message(exc, "seed 002 stream")))
        return
    if not sent:
        yield _event(envelope(""))


@router.post(
    "/sse/subscribe",
    summary="Seed 002 (YuanChat) streaming chat",
    response_class=EventSourceResponse,
    responses={
        200: {
            "description": 'Events, each `data: {"errCode", "errMessage", "exceptionMsg", "flag", '
            '"resData": {"message", "time"}}`',
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        }
    },
)
async def subscribe(
    body: SubscribeRequest,
    user: str = Depends(current_user),
    services: Services = Depends(get_services),
) -> Response:
    request = turn_request(body, user, services)
    if not request.text.strip():
        return event_stream(_single(failure(INVALID_MESSAGES, "The last question is empty.")))
    try:
        turn = await start_turn(services.chat, request)
    except BackendBusy as exc:
        return event_stream(_single(failure(SERVER_BUSY, "The model is busy, please retry later.", str(exc))))
    except PromptTooLong as exc:
        return event_stream(_single(failure(PROMPT_TOO_LONG, "The conversation is too long for the model.", str(exc))))
    except DocchatError as exc:
        return event_stream(_single(failure(INFERENCE_ERROR, public_message(exc, "seed 002"))))
    return event_stream(_answer_events(turn), turn)
