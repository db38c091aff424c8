"""Toasts in the tab's language, and exceptions turned into one readable sentence for one
(the trace goes to the log only)."""

from __future__ import annotations

import logging

import gradio as gr

from llm.types import BackendBusy
from rag.types import DocchatError, EmbeddingModelMismatch, EmptyQuestion, NothingToRegenerate
from ui.i18n import known_error, normalize, t

log = logging.getLogger(__name__)

BUSY = t("en", "busy")
GONE = t("en", "gone")

# Errors a person can act on, said in the UI's language (the API keeps the English text).
_KNOWN = [
    (BackendBusy, "busy"),
    (EmptyQuestion, "empty_question"),
    (NothingToRegenerate, "nothing_to_regenerate"),
    (EmbeddingModelMismatch, "embedding_mismatch"),
]


def warning_toast(text: str, lang: str = "en") -> None:
    """gr.Warning with its title in ``lang`` too (Gradio 6.31 ignores ``title`` and shows
    "Warning"; ui/language.py's boot script renames it in the browser)."""
    gr.Warning(text, title=t(lang, "toast_warning"))


def info_toast(text: str, lang: str = "en") -> None:
    """gr.Info with its title in ``lang``."""
    gr.Info(text, title=t(lang, "toast_info"))


def describe(exc: BaseException, lang: str = "en") -> str:
    """What the person should read: our own errors (in ``lang``), anything else as a hint."""
    from storage.history import ConversationNotFound  # storage is imported lazily

    if isinstance(exc, ConversationNotFound):
        return t(lang, "gone")
    for kind, key in _KNOWN:
        if isinstance(exc, kind) and (kind is BackendBusy or normalize(lang) != "en"):
            return t(lang, key)
    if isinstance(exc, (DocchatError, ValueError)):
        text = str(exc).strip() or exc.__class__.__name__
        if normalize(lang) != "en":
            if "title cannot be empty" in text:
                return t(lang, "title_empty")
            return known_error(lang, text) or t(lang, "not_done")
        return text[0].upper() + text[1:]
    return t(lang, "unexpected", name=exc.__class__.__name__)


def warn(exc: BaseException, action: str, lang: str = "en") -> None:
    """Log ``exc`` (with a trace when unexpected) and show it as a gr.Warning toast in ``lang``."""
    expected = isinstance(exc, (BackendBusy, DocchatError, ValueError, LookupError))
    if expected:
        log.info("%s: %s", action, exc)
    else:
        log.exception("%s failed", action)
    warning_toast(describe(exc, lang), lang)
