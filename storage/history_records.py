"""The shapes of stored conversations and messages, and how they map to rows and JSON.

``storage.history.HistoryManager`` reads and writes them; these pieces are pure (no
database), so the manager's file holds only the queries.
"""

from __future__ import annotations

import dataclasses
import json
import sqlite3
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

TITLE_CHARS = 60

MESSAGE_COLUMNS = (
    "id, conversation_id, role, content, created_at, standalone_query, sources, "
    "prompt_tokens, completion_tokens, model, params, status, calculations"
)


@dataclass
class Conversation:
    id: str
    user_id: str
    title: str
    created_at: str  # ISO-8601 UTC with microseconds
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class StoredMessage:
    id: str
    conversation_id: str
    role: str
    content: str
    created_at: str
    standalone_query: str | None = None
    sources: list[dict] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    model: str | None = None
    params: dict = field(default_factory=dict)
    status: str = "complete"  # 'complete' | 'partial' (an answer cut short)
    calculations: list[dict] = field(default_factory=list)  # rag/calculator.py, DESIGN.md §5

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def format_timestamp(moment: datetime) -> str:
    """ISO-8601 in UTC with microseconds: same width always, so text order = time order."""
    if moment.tzinfo is None:  # an injected naive clock is taken to be UTC
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def title_from_question(text: str) -> str:
    """The first ~60 characters of a question, on one line; '' when it has no text."""
    line = " ".join(text.split())
    if len(line) <= TITLE_CHARS:
        return line
    return line[: TITLE_CHARS - 1].rstrip() + "…"


def plain(value: Any) -> Any:
    """Objects with ``to_dict`` (Source) or dataclasses (GenerationParams) as plain dicts."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return asdict(value)
    return value


def to_json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=plain)


def conversation_from_row(row: sqlite3.Row) -> Conversation:
    return Conversation(row["id"], row["user_id"], row["title"], row["created_at"], row["updated_at"])


def message_from_row(row: sqlite3.Row) -> StoredMessage:
    return StoredMessage(
        id=row["id"],
        conversation_id=row["conversation_id"],
        role=row["role"],
        content=row["content"],
        created_at=row["created_at"],
        standalone_query=row["standalone_query"],
        sources=json.loads(row["sources"]),
        prompt_tokens=row["prompt_tokens"],
        completion_tokens=row["completion_tokens"],
        model=row["model"],
        params=json.loads(row["params"]),
        status=row["status"],
        calculations=json.loads(row["calculations"] or "[]"),
    )
