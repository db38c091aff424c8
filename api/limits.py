"""Resource limits of the HTTP API: body size, concurrent uploads, per-user request rates.

Why: one caller must not be able to fill the disk, the memory or the model's queue for
everyone else. Each limit answers with a clear status a client can act on: 413 (too
large), 503 + Retry-After (uploads are busy), 429 + Retry-After (slow down).
"""

from __future__ import annotations

import math
import threading
import time
from collections import defaultdict, deque
from contextlib import asynccontextmanager
from typing import AsyncIterator, Callable

import anyio
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.errors import ApiError, error_response
from services.access import is_loopback
from settings import Settings

MIB = 1024 * 1024
LIMITED_PREFIXES = ("/api/", "/v1/", "/sse/")
CHAT_PATHS = frozenset({"/api/chat", "/v1/chat/completions", "/sse/subscribe"})
UPLOAD_PATH = "/api/documents"
NETWORK_DEFAULT_RATE = 60  # per user per minute, when bound beyond loopback
UPLOAD_QUEUE_WAIT_S = 30.0


class _BodyTooLarge(Exception):
    pass


class BodySizeLimit:
    """413 for API bodies over ``--max-upload-mb``, whether or not they declare a length.

    A declared Content-Length is refused before anything is read; a chunked body is
    counted as it arrives and reading stops at the limit, so a client streaming
    gigabytes costs us at most the limit.
    """

    def __init__(self, app: ASGIApp, get_limit: Callable[[], int]) -> None:
        self.app = app
        self.get_limit = get_limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(LIMITED_PREFIXES):
            await self.app(scope, receive, send)
            return
        limit = self.get_limit()
        too_large = error_response(413, f"Request body larger than {limit // MIB} MiB (--max-upload-mb).")
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            await too_large(scope, receive, send)
            return
        received = 0
        overflowed = replaced = False

        async def counting_receive() -> Message:
            nonlocal received, overflowed
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    overflowed = True
                    raise _BodyTooLarge()
            return message

        async def guarded_send(message: Message) -> None:
            # Frameworks turn our signal into their own error (FastAPI: 400 "error parsing
            # the body"); whatever the app answers after an overflow becomes our 413.
            nonlocal replaced
            if overflowed:
                if not replaced:
                    replaced = True
                    await too_large(scope, receive, send)
                return
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not overflowed or replaced:
                raise
            replaced = True
            await too_large(scope, receive, send)


class RateLimiter:
    """At most ``per_minute`` requests of one kind per user in any 60 s (sliding window)."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.per_minute = per_minute
        self.clock = clock
        self._hits: dict[tuple[str, str], deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Settings) -> "RateLimiter":
        rate = settings.rate_limit_per_minute
        if rate is None:
            rate = 0 if is_loopback(str(settings.host)) and not settings.share else NETWORK_DEFAULT_RATE
        return cls(rate)

    def check(self, user: str, kind: str) -> None:
        """Count one request; ApiError 429 with Retry-After when over the limit."""
        if self.per_minute <= 0:
            return
        now = self.clock()
        with self._lock:
            hits = self._hits[(user, kind)]
            while hits and hits[0] <= now - 60:
                hits.popleft()
            if len(hits) >= self.per_minute:
                retry = max(1, math.ceil(hits[0] + 60 - now))
                raise ApiError(429, f"Too many {kind} requests: at most {self.per_minute} per minute. "
                               f"Retry in {retry} s.", headers={"Retry-After": str(retry)})
            hits.append(now)


def request_kind(method: str, path: str) -> str | None:
    """'chat' or 'upload' for the requests the rate limit counts, else None."""
    path = path.rstrip("/")
    if method == "POST" and path in CHAT_PATHS:
        return "chat"
    if method == "POST" and path == UPLOAD_PATH:
        return "upload"
    return None


class UploadGate:
    """At most ``slots`` API uploads indexing at once and as many waiting; beyond, 503.

    Indexing is CPU-heavy: a burst of uploads would otherwise queue without bound
    behind the embedder while every chat waits too.
    """

    def __init__(self, slots: int, wait_s: float = UPLOAD_QUEUE_WAIT_S) -> None:
        self.slots = max(1, slots)
        self.wait_s = wait_s
        self._semaphore: anyio.Semaphore | None = None
        self._admitted = 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        if self._semaphore is None:  # created inside the event loop
            self._semaphore = anyio.Semaphore(self.slots)
        if self._admitted >= 2 * self.slots:
            raise ApiError(503, "Too many uploads are being indexed; retry shortly.",
                           headers={"Retry-After": "10"})
        self._admitted += 1
        try:
            with anyio.move_on_after(self.wait_s) as waited:
                await self._semaphore.acquire()
            if waited.cancelled_caught:
                raise ApiError(503, "Uploads are busy; retry shortly.", headers={"Retry-After": "10"})
            try:
                yield
            finally:
                self._semaphore.release()
        finally:
            self._admitted -= 1
