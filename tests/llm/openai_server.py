"""A minimal real OpenAI-compatible server around a ChatBackend, for the OpenAIBackend tests.

It speaks just enough of ``/v1/models`` and ``/v1/chat/completions`` (JSON and SSE) to
exercise the official client, reads vLLM-style extras (``top_k``,
``repetition_penalty``) and keeps every request body in ``app.state.requests`` so
tests can check what arrived. ``app.state.report_usage = False`` makes it behave like
servers that never send usage.
"""

from __future__ import annotations

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


def make_app(backend: ChatBackend) -> FastAPI:
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
        return StreamingResponse(_sse(request, backend, body["messages"], params, include_usage),
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
               include_usage: bool) -> AsyncIterator[str]:
    """SSE chunks; a client that disconnects cancels the generation (the model is freed)."""
    cancel = threading.Event()
    base = {"id": f"chatcmpl-{uuid.uuid4().hex}", "object": "chat.completion.chunk",
            "created": int(time.time()), "model": backend.name}

    def event(choices: list, usage: Any = None) -> str:
        return f"data: {json.dumps({**base, 'choices': choices, 'usage': usage})}\n\n"

    try:
        stream = await run_in_threadpool(backend.stream, messages, params, cancel)
        yield event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}])
        while (piece := await run_in_threadpool(next, stream, None)) is not None:
            if await request.is_disconnected():
                return
            yield event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}])
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
