"""The root of docchat's own exceptions: each says what went wrong and how the edges show it.

Every product exception derives from ``DocchatError`` (keeping a builtin base such as
``LookupError`` where callers catch that) and carries two class attributes:

- ``http_status``: the status the HTTP API answers with (api/errors.py, one lookup);
- ``ui_key``: the ui/i18n.py key the UI says it with (ui/errors.py, one lookup), or
  ``None`` when the message itself is what a person reads (the loader's per-file
  messages, which ui/i18n.py's ``ERROR_PATTERNS`` say again in other languages).

A 500 is our fault, not the caller's (a closed database, an unreachable model server):
its text may name server paths, so it goes to the log and the caller gets an error id.

This module imports nothing of docchat, so llm/, storage/, rag/, api/ and ui/ may all
import it without a cycle.
"""

from __future__ import annotations


class DocchatError(Exception):
    """Base of docchat's own errors; the message of a 4xx is shown to the caller as is."""

    http_status: int = 400
    ui_key: str | None = None


class InternalError(DocchatError):
    """Something on the server is broken or unreachable; the caller can only retry or report it."""

    http_status = 500
    ui_key = "not_done"


def user_message(exc: BaseException) -> str | None:
    """The text a caller may read about ``exc``: our own errors' messages except a 500's; else None."""
    if isinstance(exc, DocchatError) and exc.http_status != 500:
        return str(exc) or None
    return None
