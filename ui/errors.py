"""Toasts in the tab's language, and exceptions turned into one readable sentence for one
(the trace goes to the log only)."""

from __future__ import annotations

import logging

import gradio as gr

from errors import DocchatError, user_message
from ui.i18n import known_error, normalize, t

log = logging.getLogger(__name__)

BUSY = t("en", "busy")
GONE = t("en", "gone")


def warning_toast(text: str, lang: str = "en") -> None:
    """gr.Warning with its title in ``lang`` too (Gradio 6.31 ignores ``title`` and shows
    "Warning"; ui/language.py's boot script renames it in the browser)."""
    gr.Warning(text, title=t(lang, "toast_warning"))


def info_toast(text: str, lang: str = "en") -> None:
    """gr.Info with its title in ``lang``."""
    gr.Info(text, title=t(lang, "toast_info"))


def describe(exc: BaseException, lang: str = "en") -> str:
    """What the person should read: our own errors by their ``ui_key`` in ``lang`` (or, with
    none, their own words), a plain ``ValueError`` by its words, anything else as a hint."""
    if isinstance(exc, DocchatError) and exc.ui_key:
        return t(lang, exc.ui_key)
    if isinstance(exc, (DocchatError, ValueError)):
        return _in_words(str(exc).strip() or exc.__class__.__name__, lang)
    return t(lang, "unexpected", name=exc.__class__.__name__)


def _in_words(text: str, lang: str) -> str:
    """An English message (the API's words) said in ``lang``: as it is in English, else the
    known loader sentence, else "that did not work"."""
    if normalize(lang) == "en":
        return text[0].upper() + text[1:]
    return known_error(lang, text) or t(lang, "not_done")


def warn(exc: BaseException, action: str, lang: str = "en") -> None:
    """Log ``exc`` (with a trace when unexpected) and show it as a gr.Warning toast in ``lang``."""
    expected = user_message(exc) is not None or isinstance(exc, (ValueError, LookupError))
    if expected:
        log.info("%s: %s", action, exc)
    else:
        log.exception("%s failed", action)
    warning_toast(describe(exc, lang), lang)
