"""A minimal real OpenAI-compatible server around a ChatBackend, for the OpenAIBackend tests.

It speaks just enough of ``/v1/models`` and ``/v1/chat/completions`` (JSON and SSE) to
exercise the official client, reads vLLM-style extras (``top_k``,
``repetition_penalty``) and keeps every request body in ``app.state.requests`` so
tests can check what arrived. ``app.state.report_usage = False`` makes it behave like
servers that never send usage.

``make_app(backend, gate)``: a ``Gate`` lets a test decide when a streamed answer may end.
Stop, disconnect and time-limit tests need an answer that is still being generated when
they act; how long a real model takes to end a "very long story" depends on the CPU (a
fast one ended it before Stop arrived). Behind a held gate the real model's tokens flow
until the answer has shown a few words, then the answer waits, however fast the model
was, until its reader leaves (docchat's Stop, a disconnect, a time limit) or the test
releases it. Point a real docchat server at it with ``DOCCHAT_LLM_BASE_URL``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
import uuid
from contextlib import contextmanager
from typing import Any, AsyncIterator, Iterator

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from llm.types import ChatBackend, GenerationParams


HEARTBEAT_S = 0.05  # a held answer sends an empty delta this often, so its reader can look at its stop


class Gate:
    """Holds the next streamed answer after ``after_chars`` characters (or at its end, if the
    model ends sooner) until its reader leaves or ``release()`` is called.

    Only streamed answers are held: docchat's condense and collection calls are not streamed.
    ``holding`` is set once the held answer has stopped flowing; ``shown`` is the text it
    sent before that, for a test to compare with what was stored.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._armed: int | None = None
        self._released = threading.Event()
        self.holding = threading.Event()
        self.shown = ""

    def hold_next(self, after_chars: int = 60) -> None:
        with self._lock:
            self._armed = after_chars
        self._released.clear()
        self.holding.clear()
        self.shown = ""

    def release(self) -> None:
        self._released.set()

    def open(self) -> None:
        """No answer is held: the armed hold is dropped and a held answer goes on."""
        with self._lock:
            self._armed = None
        self._released.set()

    def claim(self) -> int | None:
        """Server side: the character count to hold this answer at, or None (the gate is open)."""
        with self._lock:
            after, self._armed = self._armed, None
        return after

    @property
    def released(self) -> bool:
        return self._released.is_set()


def make_app(backend: ChatBackend, gate: Gate | None = None) -> FastAPI:
    app = FastAPI()
    app.state.requests = []
    app.state.report_usage = True

    @app.get("/v1/models")
    def models() -> dict[str, Any]:
        return {"object": "list", "data": [{"id": backend.name, "object": "model", "created": 0,
                                            "owned_by": "docchat-tests", "max_model_len": backend.context_window}]}

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Any:
        body = await request.json()
        app.state.requests.append(body)
        params = _params(body)
        if not body.get("stream"):
            completion = await run_in_threadpool(backend.complete, body["messages"], params)
            usage = completion.usage
            return {
                "id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion", "created": int(time.time()),
                "model": backend.name,
                "choices": [{"index": 0, "message": {"role": "assistant", "content": completion.text},
                             "finish_reason": usage.finish_reason}],
                "usage": _usage(usage) if app.state.report_usage else None,
            }
        include_usage = bool((body.get("stream_options") or {}).get("include_usage")) and app.state.report_usage
        hold_at = gate.claim() if gate is not None else None
        return StreamingResponse(_sse(request, backend, body["messages"], params, include_usage, gate, hold_at),
                                 media_type="text/event-stream")

    return app


def _params(body: dict[str, Any]) -> GenerationParams:
    stop = body.get("stop") or ()
    return GenerationParams(
        max_new_tokens=body.get("max_tokens") or 64,
        temperature=body.get("temperature", 1.0),
        top_p=body.get("top_p", 1.0),
        top_k=max(body.get("top_k", 0), 0),
        repetition_penalty=body.get("repetition_penalty", 1.0),
        stop=(stop,) if isinstance(stop, str) else tuple(stop),
    )


def _usage(usage: Any) -> dict[str, int]:
    return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
            "total_tokens": usage.total_tokens}


async def _sse(request: Request, backend: ChatBackend, messages: list, params: GenerationParams,
               include_usage: bool, gate: Gate | None = None, hold_at: int | None = None) -> AsyncIterator[str]:
    """SSE chunks; a client that disconnects cancels the generation (the model is freed).
    With ``hold_at``, the answer stops flowing after that many characters (see ``Gate``)."""
    cancel = threading.Event()
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": backend.name}

    def event(choices: list, usage: Any = None) -> str:
        return f"data: {json.dumps({**base, 'choices': choices, 'usage': usage})}\n\n"

    def delta(text: str) -> str:
        return event([{"index": 0, "delta": {"content": text}, "finish_reason": None}])

    async def held() -> AsyncIterator[str]:
        """Empty deltas until the reader leaves or the test releases the answer."""
        gate.holding.set()
        while not gate.released:
            if await request.is_disconnected():
                return
            yield delta("")
            await asyncio.sleep(HEARTBEAT_S)

    try:
        stream = await run_in_threadpool(backend.stream, messages, params, cancel)
        yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        shown = ""
        while True:
            piece = await run_in_threadpool(next, stream, None)
            if hold_at is not None and (piece is None or len(shown) >= hold_at):
                # held here, however far the model has got (ended, even)
                gate.shown, hold_at = shown, None
                async for beat in held():
                    yield beat
                if not gate.released:
                    return
            if piece is None:
                break
            if await request.is_disconnected():
                return
            yield delta(piece)
            shown += piece
        yield event([{"index": 0, "delta": {}, "finish_reason": stream.usage.finish_reason}])
        if include_usage:
            yield event([], _usage(stream.usage))
        yield "data: [DONE]\n\n"
    finally:
        cancel.set()


@contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Run ``app`` on a free port of 127.0.0.1 in a thread; yields its base URL."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("test OpenAI server did not start")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@contextmanager
def gated_model(backend: ChatBackend) -> Iterator[tuple[str, Gate]]:
    """``backend`` served behind a ``Gate`` on 127.0.0.1: (base URL, gate)."""
    gate = Gate()
    with serve(make_app(backend, gate)) as url:
        yield url, gate
