"""The one layer every skin calls (the Gradio UI, the HTTP APIs, MCP, Python callers).

``build_services`` creates every long-lived part once — storage, models, indexes — and
wires them into the services: ``access`` (who is calling, what they may see), ``chat``
(a turn for a caller, stored), ``documents`` and ``conversations``. A turn never loads a
model or scans the whole index. ``ConversationManager`` is seed 000's Python API over
the same services.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import Any

from llm.types import ChatBackend
from rag.embeddings import Embedder
from rag.knowledge_base import KnowledgeBase
from rag.page_render import PageViewer
from rag.turn import Passages, TurnRequest, TurnResult
from services.access import Access
from services.chat import Chat, ChatStream
from services.conversations import Conversations
from services.documents import Documents
from services.requests import generation_params
from settings import Settings
from storage.db import Database
from storage.documents import DocumentRegistry
from storage.history import HistoryManager

log = logging.getLogger(__name__)

__all__ = ["ConversationManager", "Services", "build_services"]


@dataclass
class Services:
    settings: Settings
    access: Access
    chat: Chat
    documents: Documents
    conversations: Conversations
    # the parts they are built from (tests, benchmarks and start-up reach them)
    llm: ChatBackend
    embedder: Embedder
    db: Database
    history: HistoryManager
    registry: DocumentRegistry
    knowledge_base: KnowledgeBase
    pages: PageViewer
    pipeline: "ConversationManager"  # seed 000's API over ``chat``

    def model_info(self) -> dict[str, str]:
        """What the UI's #model-info and /healthz report."""
        return {
            "chat_model": self.llm.name,
            "embedding_model": self.embedder.name,
            "device": self.llm.device,
            "engine": self.llm.engine,
        }

    def close(self) -> None:
        self.knowledge_base.close()
        self.db.close()


def quiet_third_party() -> None:
    """Offline-friendly defaults for libraries that would otherwise phone home."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_services(settings: Settings, *, llm: ChatBackend | None = None, embedder: Embedder | None = None) -> Services:
    """Create the data dir, open storage, load models, recover interrupted indexing.

    ``llm``/``embedder`` let tests and benchmarks share already-loaded models.
    """
    from llm.factory import make_backend
    from rag.embeddings import make_embedder
    from storage.positions import PositionStore

    quiet_third_party()
    access = Access.from_settings(settings)  # a bad credentials file fails before models load
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_path)
    history = HistoryManager(db, idle_minutes=settings.idle_minutes)
    registry = DocumentRegistry(db)
    embedder = embedder or make_embedder(settings)
    knowledge_base = KnowledgeBase(settings, registry, embedder, positions=PositionStore(db))
    knowledge_base.recover()
    pages = PageViewer(settings, knowledge_base, knowledge_base.positions)
    # Documents indexed before chunk positions existed get them in the background; the
    # page route derives a document's positions on demand meanwhile.
    threading.Thread(target=pages.derive_missing, name="derive-positions", daemon=True).start()
    llm = llm or make_backend(settings)
    chat = Chat(settings, llm, knowledge_base, history, access.scope)
    log.info("chat model: %s on %s; embeddings: %s", llm.name, llm.device, embedder.name)
    return Services(
        settings, access, chat, Documents(knowledge_base, pages, access, llm, settings.phrasing_weight), Conversations(history),
        llm, embedder, db, history, registry, knowledge_base, pages, ConversationManager(chat=chat),
    )


class ConversationManager:
    """Seed 000's Python API (DESIGN.md §4) over ``services.chat``.

    ``ConversationManager()`` alone builds the default services (bundled models,
    ``dbcache/``); benchmarks may hand it their own parts instead.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        llm: ChatBackend | None = None,
        knowledge_base: Passages | None = None,
        history: HistoryManager | None = None,
        chat: Chat | None = None,
    ) -> None:
        if chat is None and llm is not None and knowledge_base is not None and history is not None:
            settings = settings or Settings()
            chat = Chat(settings, llm, knowledge_base, history, Access.from_settings(settings).scope)
        if chat is None:
            chat = build_services(settings or Settings()).chat
        self.chat = chat
        self.settings, self.llm = chat.settings, chat.llm
        self.knowledge_base, self.history_manager = chat.passages, chat.history

    def handle_message(self, user_id: str, text: str, conversation_id: str | None = None,
                       new_conversation: bool = False, **params: Any) -> str:
        """Answer ``text`` in the user's current conversation and return the reply."""
        return self.chat.run(self.chat.request(
            user_id, text, conversation_id=conversation_id, new_conversation=new_conversation, **params)).text

    def stream_message(self, user_id: str, text: str, **fields: Any) -> ChatStream:
        """Streaming twin of ``handle_message`` (sampling and TurnRequest fields alike)."""
        return self.chat.stream(self.chat.request(user_id, text, **fields))

    def run_turn(self, req: TurnRequest, cancel: threading.Event | None = None) -> TurnResult:
        return self.chat.run(req, cancel)

    def stream_turn(self, req: TurnRequest, cancel: threading.Event | None = None) -> ChatStream:
        return self.chat.stream(req, cancel)

    def default_params(self, **overrides: Any):
        """The settings' sampling with ``overrides`` (services/requests.py)."""
        return generation_params(self.settings, **overrides)
