"""Users, conversations and their messages: what a user has said and been told.

Every read and change by user is scoped by ``user_id``: a conversation that belongs to
someone else is reported exactly like one that does not exist (``ConversationNotFound``),
so ids cannot be probed. Messages are ordered by an autoincrement ``seq``, never by
time alone. Sources and generation params are structured JSON on the message.
The record types are in storage/history_records.py, the Markdown export in
storage/history_export.py.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

from errors import DocchatError
from storage.db import Database
from storage.history_export import conversation_markdown
from storage.history_records import (
    MESSAGE_COLUMNS,
    Conversation,
    StoredMessage,
    conversation_from_row,
    format_timestamp,
    message_from_row,
    plain,
    title_from_question,
    to_json,
    utc_now,
)

logger = logging.getLogger(__name__)

DEFAULT_TITLE = "New chat"
ROLES = ("system", "user", "assistant")
STATUSES = ("complete", "partial")

Clock = Callable[[], datetime]


class ConversationNotFound(DocchatError, LookupError):
    """Unknown conversation id, or one that belongs to another user (never say which)."""

    http_status = 404
    ui_key = "gone"


class EmptyTitle(DocchatError, ValueError):
    """A conversation cannot be renamed to nothing."""

    ui_key = "title_empty"


class HistoryManager:
    """Conversations per user, their messages, and exports (seed 000's ``history_manager``)."""

    def __init__(self, db: Database, idle_minutes: float = 30.0, now: Clock | None = None) -> None:
        self.db = db
        self.idle_gap = timedelta(minutes=idle_minutes)
        self._now = now or utc_now

    def _timestamp(self) -> str:
        return format_timestamp(self._now())

    # --- users and conversations ---------------------------------------------------
    def ensure_user(self, user_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO users (id, created_at) VALUES (?, ?)", (user_id, self._timestamp())
            )

    def start_conversation(self, user_id: str, title: str = DEFAULT_TITLE) -> Conversation:
        now = self._timestamp()
        conversation = Conversation(str(uuid.uuid4()), user_id, title.strip() or DEFAULT_TITLE, now, now)
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO users (id, created_at) VALUES (?, ?)", (user_id, now))
            conn.execute(
                "INSERT INTO conversations (id, user_id, title, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                (conversation.id, user_id, conversation.title, now, now),
            )
        logger.debug("User %s started conversation %s", user_id, conversation.id)
        return conversation

    def resolve_conversation(
        self, user_id: str, conversation_id: str | None = None, new: bool = False
    ) -> Conversation:
        """The conversation a turn belongs to.

        An explicit id wins (and must be the user's); ``new`` starts one; otherwise the
        user's latest conversation continues unless it has been idle longer than the gap
        (an empty latest conversation, e.g. from "new chat", is always reused).
        """
        if conversation_id:
            return self.get_conversation(user_id, conversation_id)
        if new:
            return self.start_conversation(user_id)
        # One transaction, so two simultaneous first turns of a user share one conversation.
        with self.db.transaction():
            latest = self._latest(user_id)
            if latest is not None and (self._is_recent(latest) or not self._has_messages(latest.id)):
                return latest
            return self.start_conversation(user_id)

    def _is_recent(self, conversation: Conversation) -> bool:
        updated = datetime.fromisoformat(conversation.updated_at)
        now = self._now()
        if now.tzinfo is None:
            now = now.replace(tzinfo=timezone.utc)
        return now - updated <= self.idle_gap

    def _has_messages(self, conversation_id: str) -> bool:
        rows = self.db.query("SELECT 1 FROM messages WHERE conversation_id = ? LIMIT 1", (conversation_id,))
        return bool(rows)

    def _latest(self, user_id: str) -> Conversation | None:
        rows = self.db.query(
            "SELECT * FROM conversations WHERE user_id = ? ORDER BY updated_at DESC, rowid DESC LIMIT 1",
            (user_id,),
        )
        return conversation_from_row(rows[0]) if rows else None

    def get_conversation(self, user_id: str, conversation_id: str) -> Conversation:
        rows = self.db.query(
            "SELECT * FROM conversations WHERE id = ? AND user_id = ?", (conversation_id, user_id)
        )
        if not rows:
            raise ConversationNotFound(f"no conversation {conversation_id!r}")
        return conversation_from_row(rows[0])

    def list_conversations(self, user_id: str) -> list[Conversation]:
        """The user's conversations, most recently active first."""
        rows = self.db.query(
            "SELECT * FROM conversations WHERE user_id = ? ORDER BY updated_at DESC, rowid DESC", (user_id,)
        )
        return [conversation_from_row(row) for row in rows]

    def rename_conversation(self, user_id: str, conversation_id: str, title: str) -> Conversation:
        title = " ".join(title.split())
        if not title:
            raise EmptyTitle("A conversation title cannot be empty.")
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE conversations SET title = ? WHERE id = ? AND user_id = ?",
                (title, conversation_id, user_id),
            )
            if cursor.rowcount == 0:
                raise ConversationNotFound(f"no conversation {conversation_id!r}")
        return self.get_conversation(user_id, conversation_id)

    def delete_conversation(self, user_id: str, conversation_id: str) -> None:
        """Delete a conversation and (by cascade) all its messages."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "DELETE FROM conversations WHERE id = ? AND user_id = ?", (conversation_id, user_id)
            )
            if cursor.rowcount == 0:
                raise ConversationNotFound(f"no conversation {conversation_id!r}")
        logger.debug("User %s deleted conversation %s", user_id, conversation_id)

    # --- messages ----------------------------------------------------------------------
    def add_message(
        self,
        conversation_id: str,
        role: str,
        content: str,
        *,
        standalone_query: str | None = None,
        sources: list | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
        model: str | None = None,
        params: Any = None,
        status: str = "complete",
        message_id: str | None = None,
        calculations: list | None = None,
    ) -> StoredMessage:
        """Append a message (``message_id`` lets a streaming caller announce the id first); bumps the conversation and titles it from its first question.

        The caller has already checked ownership (``resolve_conversation``); a
        conversation deleted in the meantime raises ``ConversationNotFound``.
        ``sources`` may be dicts or ``Source`` objects, ``params`` a dict or a dataclass.
        """
        if role not in ROLES:
            raise ValueError(f"role must be one of {ROLES}, not {role!r}")
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        message = StoredMessage(
            id=message_id or str(uuid.uuid4()),
            conversation_id=conversation_id,
            role=role,
            content=content,
            created_at=self._timestamp(),
            standalone_query=standalone_query,
            sources=[plain(source) for source in sources or []],
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            model=model,
            params=dict(plain(params) or {}),
            status=status,
            calculations=[plain(c) for c in calculations or []],
        )
        with self.db.transaction() as conn:
            row = conn.execute("SELECT title FROM conversations WHERE id = ?", (conversation_id,)).fetchone()
            if row is None:
                raise ConversationNotFound(f"no conversation {conversation_id!r}")
            conn.execute(
                f"INSERT INTO messages ({MESSAGE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    message.id, conversation_id, role, content, message.created_at, standalone_query,
                    to_json(message.sources), prompt_tokens, completion_tokens, model,
                    to_json(message.params), status, to_json(message.calculations),
                ),
            )
            title = row["title"]
            if role == "user" and title == DEFAULT_TITLE:
                title = title_from_question(content) or DEFAULT_TITLE
            conn.execute(
                "UPDATE conversations SET updated_at = ?, title = ? WHERE id = ?",
                (message.created_at, title, conversation_id),
            )
        return message

    def update_message(
        self,
        message_id: str,
        *,
        content: str | None = None,
        status: str | None = None,
        sources: list | None = None,
        standalone_query: str | None = None,
        prompt_tokens: int | None = None,
        completion_tokens: int | None = None,
    ) -> StoredMessage:
        """Change a stored message, e.g. complete an answer first saved as 'partial'.

        Only the fields given (not None) change. Raises ``LookupError`` if it is gone.
        """
        if status is not None and status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        changes: dict[str, Any] = {
            "content": content,
            "status": status,
            "sources": None if sources is None else to_json([plain(s) for s in sources]),
            "standalone_query": standalone_query,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
        }
        changes = {column: value for column, value in changes.items() if value is not None}
        with self.db.transaction() as conn:
            if changes:
                assignments = ", ".join(f"{column} = ?" for column in changes)
                conn.execute(
                    f"UPDATE messages SET {assignments} WHERE id = ?", (*changes.values(), message_id)
                )
            row = conn.execute(f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = ?", (message_id,)).fetchone()
            if row is None:
                raise LookupError(f"no message {message_id!r}")
        return message_from_row(row)

    def get_messages(self, user_id: str, conversation_id: str, limit: int | None = None) -> list[StoredMessage]:
        """Messages oldest first; ``limit`` keeps the last N (None or negative: all)."""
        self.get_conversation(user_id, conversation_id)
        if limit is not None and limit >= 0:
            rows = self.db.query(
                f"SELECT * FROM (SELECT seq, {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? "
                "ORDER BY seq DESC LIMIT ?) ORDER BY seq",
                (conversation_id, limit),
            )
        else:
            rows = self.db.query(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? ORDER BY seq",
                (conversation_id,),
            )
        return [message_from_row(row) for row in rows]

    def count_messages(self, user_id: str, conversation_id: str) -> int:
        """How many messages the conversation holds (without loading them)."""
        self.get_conversation(user_id, conversation_id)
        rows = self.db.query("SELECT COUNT(*) AS n FROM messages WHERE conversation_id = ?", (conversation_id,))
        return int(rows[0]["n"])

    def get_history(self, user_id: str, conversation_id: str | None = None) -> list[dict]:
        """Seed 000: the messages of that conversation (or the user's latest) as dicts."""
        if conversation_id is None:
            latest = self._latest(user_id)
            if latest is None:
                return []
            conversation_id = latest.id
        return [message.to_dict() for message in self.get_messages(user_id, conversation_id)]

    def delete_last_answer(self, user_id: str, conversation_id: str) -> StoredMessage | None:
        """For "regenerate": drop the trailing assistant answer, return the question before it.

        If the conversation already ends with a question (its answer was never stored),
        nothing is deleted and that question is returned; None when there is no question.
        """
        self.get_conversation(user_id, conversation_id)
        with self.db.transaction() as conn:
            last = conn.execute(
                "SELECT seq, role FROM messages WHERE conversation_id = ? ORDER BY seq DESC LIMIT 1",
                (conversation_id,),
            ).fetchone()
            if last is not None and last["role"] == "assistant":
                conn.execute("DELETE FROM messages WHERE seq = ?", (last["seq"],))
                conn.execute(
                    "UPDATE conversations SET updated_at = ? WHERE id = ?", (self._timestamp(), conversation_id)
                )
            question = conn.execute(
                f"SELECT {MESSAGE_COLUMNS} FROM messages WHERE conversation_id = ? AND role = 'user' "
                "ORDER BY seq DESC LIMIT 1",
                (conversation_id,),
            ).fetchone()
        return message_from_row(question) if question is not None else None

    # --- export ------------------------------------------------------------------------
    def export_markdown(self, user_id: str, conversation_id: str) -> str:
        """The conversation as Markdown: title, each message, its sources as "file p. N"."""
        conversation = self.get_conversation(user_id, conversation_id)
        return conversation_markdown(conversation, self.get_messages(user_id, conversation_id))

    def export_json(self, user_id: str, conversation_id: str) -> dict:
        """The conversation and all its messages as plain JSON-ready data."""
        conversation = self.get_conversation(user_id, conversation_id)
        data: dict[str, Any] = conversation.to_dict()
        data["messages"] = [message.to_dict() for message in self.get_messages(user_id, conversation_id)]
        return data
