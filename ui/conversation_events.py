"""The conversations panel: who is here, switch, new chat, rename, delete, export.

The page load asks ``services.access`` who this tab is (login name, else the browser id
kept in localStorage) and reopens their most recent conversation, so a reload shows the
same chat. Everything else is a thin call into ``services.conversations``.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

import gradio as gr

from ui import errors, formatting, source_viewer
from ui.i18n import EN, t
from ui.language import request_language
from ui.layout import Layout

log = logging.getLogger(__name__)


def conversation_list(services: Any, user_id: str, selected: str | None, lang: str = "en") -> dict:
    """#conversations update: the user's chats (newest first) with ``selected`` ticked."""
    choices = formatting.conversation_choices(services.conversations.list(user_id), lang)
    ids = {conversation_id for _, conversation_id in choices}
    return gr.update(choices=choices, value=selected if selected in ids else None)


def open_conversation(services: Any, user_id: str, conversation_id: str | None, lang: str = "en") -> tuple:
    """(conversation id, #chatbot, #sources, title box) for one conversation or an empty chat."""
    if conversation_id is None:
        return None, [], source_viewer.sources_html([], lang=lang), ""
    messages = services.conversations.messages(user_id, conversation_id)
    title = services.conversations.get(user_id, conversation_id).title
    return (
        conversation_id,
        formatting.chat_messages(messages, lang),
        source_viewer.sources_html(formatting.last_answer_sources(messages), lang=lang),
        title,
    )


def make_handlers(services: Any) -> dict:
    """Event handlers bound to the shared services (each returns component values)."""
    conversations_ = services.conversations

    def start_session(browser_id: str | None, request: gr.Request) -> tuple:
        caller, browser_id = services.access.browser_caller(browser_id, getattr(request, "username", None))
        user_id = caller.user_id
        lang = request_language(request)
        conversations = conversations_.list(user_id)
        latest = conversations[0].id if conversations else None
        opened = open_conversation(services, user_id, latest, lang)
        log.debug("session for user %s, conversation %s", user_id, latest)
        ready = gr.update(interactive=True)
        return (browser_id, user_id, conversation_list(services, user_id, latest, lang), ready, *opened)

    def switch(user_id: str, conversation_id: str | None, request: gr.Request = None) -> tuple:
        lang = request_language(request)
        try:
            return open_conversation(services, user_id, conversation_id, lang)
        except LookupError as exc:
            errors.warn(exc, "opening a conversation", lang)
            return (None, [], source_viewer.sources_html([], lang=lang), "")

    def new_chat(user_id: str, request: gr.Request = None) -> tuple:
        lang = request_language(request)
        return (conversation_list(services, user_id, None, lang), *open_conversation(services, user_id, None, lang))

    def rename(user_id: str, conversation_id: str | None, title: str, request: gr.Request = None) -> dict:
        lang = request_language(request)
        if conversation_id is None:
            errors.warning_toast(t(lang, "rename_first"), lang)
            return gr.skip()
        try:
            conversations_.rename(user_id, conversation_id, title)
            errors.info_toast(t(lang, "renamed"), lang)
        except (LookupError, ValueError) as exc:
            errors.warn(exc, "renaming a conversation", lang)
        return conversation_list(services, user_id, conversation_id, lang)

    def delete(user_id: str, conversation_id: str | None, request: gr.Request = None) -> tuple:
        lang = request_language(request)
        if conversation_id is None:
            return (gr.skip(), *open_conversation(services, user_id, None, lang))
        try:
            conversations_.delete(user_id, conversation_id)
            errors.info_toast(t(lang, "conversation_deleted"), lang)
        except LookupError as exc:
            errors.warn(exc, "deleting a conversation", lang)
        return new_chat(user_id, request)

    def export(kind: str):
        def _export(user_id: str, conversation_id: str | None, request: gr.Request = None) -> dict:
            lang = request_language(request)
            if conversation_id is None:
                errors.warning_toast(t(lang, "nothing_to_export"), lang)
                return gr.update(visible=False)
            try:
                path = write_export(services, user_id, conversation_id, kind, lang)
            except LookupError as exc:
                errors.warn(exc, "exporting a conversation", lang)
                return gr.update(visible=False)
            return gr.update(value=str(path), visible=True)

        return _export

    return {
        "start_session": start_session, "switch": switch, "new_chat": new_chat, "rename": rename,
        "delete": delete, "export_md": export("md"), "export_json": export("json"),
    }


def export_filename(title: str, kind: str) -> str:
    """A safe file name from the conversation title ('Notes on 汉服?' → 'Notes-on-汉服.md')."""
    stem = re.sub(r"[^\w\-]+", "-", title, flags=re.UNICODE).strip("-")[:40].rstrip("-") or "conversation"
    return f"{stem}.{kind}"


def export_markdown(title: str, messages: list[Any], lang: str = "en") -> str:
    """The conversation as Markdown for people: title, each message with its time, its sources.

    In English this is exactly ``ConversationHistory.export_markdown``; here the headings
    follow the UI's language.
    """
    lines = [f"# {title}", ""]
    for message in messages:
        when = datetime.fromisoformat(message.created_at).strftime("%Y-%m-%d %H:%M:%S UTC")
        role = t(lang, f"export_{message.role}") if f"export_{message.role}" in EN else message.role.capitalize()
        heading = f"## {role} · {when}"
        if message.status == "partial":
            heading += t(lang, "export_interrupted")
        lines += [heading, "", message.content, ""]
        if message.sources:
            lines.append(t(lang, "export_sources"))
            for number, source in enumerate(message.sources, 1):
                name = source.get("filename") or source.get("document_id") or t(lang, "export_unknown_document")
                page = source.get("page")
                label = f"{name} {t(lang, 'page', page=page)}" if page is not None else str(name)
                lines.append(f"{number}. {label}")
            lines.append("")
    return "\n".join(lines)


def write_export(services: Any, user_id: str, conversation_id: str, kind: str, lang: str = "en") -> Path:
    """Write the Markdown or JSON export to a fresh temp dir (Gradio serves it from there).

    The Markdown is for people, so its headings are in the UI's language; JSON is data.
    """
    conversations = services.conversations
    title = conversations.get(user_id, conversation_id).title
    if kind == "md":
        text = export_markdown(title, conversations.messages(user_id, conversation_id), lang)
    else:
        text = json.dumps(conversations.export_json(user_id, conversation_id), ensure_ascii=False, indent=2)
    path = Path(tempfile.mkdtemp(prefix="docchat-export-")) / export_filename(title, kind)
    path.write_text(text, encoding="utf-8")
    return path


def wire(ui: Layout, blocks: gr.Blocks, services: Any, after_load: list) -> None:
    """Attach the conversation events; ``after_load`` are extra load steps (documents)."""
    h = make_handlers(services)
    opened = [ui.conversation_id, ui.chatbot, ui.sources, ui.title]
    private = dict(api_visibility="private", show_progress="hidden")
    load = blocks.load(
        h["start_session"], [ui.browser_id],
        [ui.browser_id, ui.user_id, ui.conversations, ui.chat_input, *opened], **private,
    )
    for fn, inputs, outputs in after_load:
        load = load.then(fn, inputs, outputs, **private)
    ui.conversations.input(h["switch"], [ui.user_id, ui.conversations], opened, **private)
    ui.new_chat.click(h["new_chat"], [ui.user_id], [ui.conversations, *opened], **private)
    ui.title.submit(h["rename"], [ui.user_id, ui.conversation_id, ui.title], [ui.conversations], **private)
    ui.rename.click(h["rename"], [ui.user_id, ui.conversation_id, ui.title], [ui.conversations], **private)
    ui.delete_chat.click(h["delete"], [ui.user_id, ui.conversation_id], [ui.conversations, *opened], **private)
    ui.export_md.click(h["export_md"], [ui.user_id, ui.conversation_id], [ui.export_file], **private)
    ui.export_json.click(h["export_json"], [ui.user_id, ui.conversation_id], [ui.export_file], **private)
