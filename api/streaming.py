"""Drive the blocking turn pipeline from async routes, and stop it when the client leaves.

The pipeline is a plain iterator that blocks on the model; each ``next()`` runs in a
worker thread so the event loop stays free for other requests. The first delta is
pulled *before* the response starts, so "busy", "prompt too long" or "not your
conversation" still become proper HTTP statuses instead of a broken 200 stream.
Whatever ends the stream — its end, an error, or the client disconnecting (the SSE
library cancels our generator) — sets the turn's ``cancel`` event, which the backend
checks after every token: the model is free for the next request at once.
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, AsyncIterator, Iterator

import anyio
from sse_starlette import EventSourceResponse

if TYPE_CHECKING:
    from rag.pipeline import ConversationManager, TurnRequest, TurnResult, TurnStream

logger = logging.getLogger(__name__)

_END = object()


def _next_or_end(iterator: Iterator[str]) -> object:
    try:
        return next(iterator)
    except StopIteration:
        return _END


@dataclass
class LiveTurn:
    """A started turn: its stream, its cancel switch and the already-fetched first delta."""

    stream: "TurnStream"
    cancel: threading.Event
    _first: object = field(default=_END, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def result(self) -> "TurnResult | None":
        """Complete once ``deltas()`` is exhausted."""
        return self.stream.result

    def _pull(self) -> object:
        with self._lock:  # one next() at a time, even when a cancelled read is still running
            return _next_or_end(self.stream)

    def _drain(self) -> None:
        """Run a cancelled stream to its end so the pipeline stores the partial answer now."""
        try:
            while self._pull() is not _END:
                pass
        except Exception:
            logger.exception("draining a cancelled turn failed")

    async def deltas(self) -> AsyncIterator[str]:
        """The answer's text deltas; leaving early (disconnect, error) cancels generation."""
        finished = False
        try:
            item = self._first
            while item is not _END:
                yield item  # type: ignore[misc]
                item = await anyio.to_thread.run_sync(self._pull, abandon_on_cancel=True)
            finished = True
        finally:
            self.cancel.set()
            if not finished:
                logger.info("stream left early; generation cancelled")
                threading.Thread(target=self._drain, name="turn-drain", daemon=True).start()


async def start_turn(pipeline: "ConversationManager", request: "TurnRequest") -> LiveTurn:
    """Prepare the turn and fetch its first delta in a worker thread (errors raise here)."""
    cancel = threading.Event()

    def start() -> tuple["TurnStream", object]:
        stream = pipeline.stream_turn(request, cancel)
        return stream, _next_or_end(stream)

    try:
        stream, first = await anyio.to_thread.run_sync(start, abandon_on_cancel=True)
    except BaseException:
        cancel.set()
        raise
    return LiveTurn(stream=stream, cancel=cancel, _first=first)


async def run_turn(pipeline: "ConversationManager", request: "TurnRequest") -> "TurnResult":
    """A whole turn in a worker thread (non-streaming routes)."""
    cancel = threading.Event()
    try:
        return await anyio.to_thread.run_sync(pipeline.run_turn, request, cancel, abandon_on_cancel=True)
    finally:
        cancel.set()


async def cancel_on_close(turn: LiveTurn) -> None:
    """``client_close_handler`` for sse-starlette: stop the model as soon as the client goes."""
    turn.cancel.set()


def sse_data(payload: object) -> dict[str, str]:
    """One SSE event whose ``data`` is ``payload`` as JSON (non-ASCII kept readable)."""
    return {"data": json.dumps(payload, ensure_ascii=False)}


SSE_DONE = {"data": "[DONE]"}


def event_stream(events: AsyncIterator[dict[str, str]], turn: LiveTurn | None = None) -> EventSourceResponse:
    """``text/event-stream`` response; a client disconnect cancels ``turn`` immediately."""

    async def on_close(message: object) -> None:
        if turn is not None:
            turn.cancel.set()

    return EventSourceResponse(
        events,
        sep="\n",  # plain "\n\n" between events: what naive line-splitting clients expect
        ping=15,
        client_close_handler_callable=on_close,
    )
