"""A caller's conversations: list, read, rename, delete, export.

Every lookup names the caller, and ``HistoryManager`` raises ``ConversationNotFound``
for an unknown id and for another user's alike, so nobody can tell whether someone
else's conversation exists.
"""

from __future__ import annotations

from typing import Any

from storage.history import HistoryManager
from storage.history_records import Conversation, StoredMessage


class Conversations:
    def __init__(self, history: HistoryManager) -> None:
        self.history = history

    def list(self, user_id: str) -> list[Conversation]:
        """Newest activity first."""
        return self.history.list_conversations(user_id)

    def get(self, user_id: str, conversation_id: str) -> Conversation:
        return self.history.get_conversation(user_id, conversation_id)

    def messages(self, user_id: str, conversation_id: str) -> list[StoredMessage]:
        return self.history.get_messages(user_id, conversation_id)

    def answer_sources(self, user_id: str, conversation_id: str, answer: int) -> list[dict[str, Any]]:
        """The stored sources of the ``answer``-th assistant message (0-based); [] when there is none."""
        answers = [m for m in self.messages(user_id, conversation_id) if m.role == "assistant"]
        return list(answers[answer].sources or []) if 0 <= answer < len(answers) else []

    def answer_calculations(self, user_id: str, conversation_id: str, answer: int) -> list[dict[str, Any]]:
        """The stored calculations of the ``answer``-th assistant message (0-based)."""
        answers = [m for m in self.messages(user_id, conversation_id) if m.role == "assistant"]
        return list(answers[answer].calculations or []) if 0 <= answer < len(answers) else []

    def rename(self, user_id: str, conversation_id: str, title: str) -> Conversation:
        return self.history.rename_conversation(user_id, conversation_id, title)

    def delete(self, user_id: str, conversation_id: str) -> None:
        self.history.delete_conversation(user_id, conversation_id)

    def export_json(self, user_id: str, conversation_id: str) -> dict[str, Any]:
        return self.history.export_json(user_id, conversation_id)
