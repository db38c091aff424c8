"""Turn exceptions into one readable sentence for a toast; the trace goes to the log only."""

from __future__ import annotations

import logging

import gradio as gr

from llm.types import BackendBusy
from rag.types import DocchatError

log = logging.getLogger(__name__)

BUSY = "The model is busy answering other people; please try again in a moment."
GONE = "That conversation no longer exists; start a new chat."


def describe(exc: BaseException) -> str:
    """What the person should read: our own errors verbatim, anything else as a hint."""
    from storage.history import ConversationNotFound  # storage is imported lazily

    if isinstance(exc, BackendBusy):
        return BUSY
    if isinstance(exc, ConversationNotFound):
        return GONE
    if isinstance(exc, (DocchatError, ValueError)):
        text = str(exc).strip() or exc.__class__.__name__
        return text[0].upper() + text[1:]
    return f"Something went wrong ({exc.__class__.__name__}); the details are in the server log."


def warn(exc: BaseException, action: str) -> None:
    """Log ``exc`` (with a trace when unexpected) and show it as a gr.Warning toast."""
    expected = isinstance(exc, (BackendBusy, DocchatError, ValueError, LookupError))
    if expected:
        log.info("%s: %s", action, exc)
    else:
        log.exception("%s failed", action)
    gr.Warning(describe(exc))
