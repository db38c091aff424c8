"""A stored conversation as a file the user downloads (Markdown; JSON is ``HistoryManager.export_json``)."""

from __future__ import annotations

from datetime import datetime

from storage.history_records import Conversation, StoredMessage


def conversation_markdown(conversation: Conversation, messages: list[StoredMessage]) -> str:
    """The conversation as Markdown: title, each message, its sources as "file p. N"."""
    lines = [f"# {conversation.title}", ""]
    for message in messages:
        heading = f"## {message.role.capitalize()} · {_readable_time(message.created_at)}"
        if message.status == "partial":
            heading += " (interrupted)"
        lines += [heading, "", message.content, ""]
        if message.sources:
            lines.append("Sources:")
            lines += [f"{n}. {_source_label(source)}" for n, source in enumerate(message.sources, 1)]
            lines.append("")
    return "\n".join(lines)


def _readable_time(timestamp: str) -> str:
    return datetime.fromisoformat(timestamp).strftime("%Y-%m-%d %H:%M:%S UTC")


def _source_label(source: dict) -> str:
    name = source.get("filename") or source.get("document_id") or "unknown document"
    page = source.get("page")
    label = f"{name} p. {page}" if page is not None else str(name)
    if source.get("cited"):  # rag/citations.py: the answer cites it; flag what its page does not back
        label += " — cited" if source.get("supported") is not False else " — cited, not found on the cited page"
    return label
