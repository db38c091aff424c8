"""Drive a blocking chat stream (services/chat.py) from async routes, and stop it when the
client leaves.

The stream is a plain iterator that blocks on the model; each ``next()`` runs in a
worker thread so the event loop stays free for other requests. The first delta is
pulled *before* the response starts, so "busy", "prompt too long" or "not your
conversation" still become proper HTTP statuses instead of a broken 200 stream.
Whatever ends the stream — its end, an error, or the client disconnecting (the SSE
library cancels our generator) — closes it: the backend sees the cancel at its next
token, the model is free for the next request at once, and the stream stores the
partial answer itself (or the read still running does).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import AsyncIterator, Iterator

import anyio
from sse_starlette import EventSourceResponse

from rag.types import TurnRequest, TurnResult
from services.chat import Chat, ChatStream

logger = logging.getLogger(__name__)

_END = object()


def _next_or_end(iterator: Iterator[str]) -> object:
    try:
        return next(iterator)
    except StopIteration:
        return _END


@dataclass
class LiveTurn:
    """A started turn: its stream and the already-fetched first delta."""

    stream: ChatStream
    _first: object = field(default=_END, repr=False)

    @property
    def result(self) -> TurnResult | None:
        """Complete once ``deltas()`` is exhausted."""
        return self.stream.result

    def cancel(self) -> None:
        """Stop the model at its next token (the stream still stores what it wrote)."""
        self.stream.cancel.set()

    async def deltas(self) -> AsyncIterator[str]:
        """The answer's text deltas; leaving early (disconnect, error) stops generation and
        stores the partial answer."""
        finished = False
        try:
            item = self._first
            while item is not _END:
                yield item  # type: ignore[misc]
                item = await anyio.to_thread.run_sync(_next_or_end, self.stream, abandon_on_cancel=True)
            finished = True
        finally:
            if not finished:
                logger.info("stream left early; generation cancelled")
                self.cancel()
                with anyio.CancelScope(shield=True):  # a cancelled request still stores its answer
                    await anyio.to_thread.run_sync(self.stream.close)


async def start_turn(chat: Chat, request: TurnRequest) -> LiveTurn:
    """Prepare the turn and fetch its first delta in a worker thread (errors raise here)."""
    stream = await anyio.to_thread.run_sync(chat.stream, request)
    try:
        first = await anyio.to_thread.run_sync(_next_or_end, stream, abandon_on_cancel=True)
    except BaseException:
        stream.cancel.set()
        raise
    return LiveTurn(stream=stream, _first=first)


async def run_turn(chat: Chat, request: TurnRequest) -> TurnResult:
    """A whole turn in a worker thread (non-streaming routes); a client that leaves stops it."""
    cancel = threading.Event()
    try:
        return await anyio.to_thread.run_sync(chat.run, request, cancel, abandon_on_cancel=True)
    finally:
        cancel.set()


def sse_data(payload: object) -> dict[str, str]:
    """One SSE event whose ``data`` is ``payload`` as JSON (non-ASCII kept readable)."""
    return {"data": json.dumps(payload, ensure_ascii=False)}


SSE_DONE = {"data": "[DONE]"}


def event_stream(events: AsyncIterator[dict[str, str]], turn: LiveTurn | None = None) -> EventSourceResponse:
    """``text/event-stream`` response; a client disconnect cancels ``turn`` immediately."""

    async def on_close(message: object) -> None:
        if turn is not None:
            turn.cancel()

    return EventSourceResponse(
        events,
        sep="\n",  # plain "\n\n" between events: what naive line-splitting clients expect
        ping=15,
        client_close_handler_callable=on_close,
    )
