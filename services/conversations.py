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

    def answer(self, user_id: str, conversation_id: str, answer: int) -> StoredMessage | None:
        """The ``answer``-th assistant message (0-based), with its sources and calculations; None when there is none."""
        answers = [m for m in self.messages(user_id, conversation_id) if m.role == "assistant"]
        return answers[answer] if 0 <= answer < len(answers) else None

    def rename(self, user_id: str, conversation_id: str, title: str) -> Conversation:
        return self.history.rename_conversation(user_id, conversation_id, title)

    def delete(self, user_id: str, conversation_id: str) -> None:
        self.history.delete_conversation(user_id, conversation_id)

    def export_json(self, user_id: str, conversation_id: str) -> dict[str, Any]:
        return self.history.export_json(user_id, conversation_id)
