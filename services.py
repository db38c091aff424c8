"""Build every long-lived part of docchat once and wire them together.

Models, stores and the database are created here at start-up and shared by the UI, the
HTTP API and Python callers; a turn never loads a model or scans the whole index.
This is the only place that knows how the parts fit; ``app.py`` calls it.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from settings import Settings

if TYPE_CHECKING:
    from access import AccessPolicy
    from llm.types import ChatBackend
    from rag.embeddings import Embedder
    from rag.knowledge_base import KnowledgeBase
    from rag.page_render import PageViewer
    from rag.pipeline import ConversationManager
    from storage.db import Database
    from storage.documents import DocumentRegistry
    from storage.history import HistoryManager

log = logging.getLogger(__name__)


@dataclass
class Services:
    settings: Settings
    llm: "ChatBackend"
    embedder: "Embedder"
    db: "Database"
    history: "HistoryManager"
    documents: "DocumentRegistry"
    knowledge_base: "KnowledgeBase"
    pipeline: "ConversationManager"
    pages: "PageViewer | None" = None  # page images + chunk positions (source viewer)
    access: "AccessPolicy | None" = None  # who is calling and what they may see (access.py)

    def model_info(self) -> dict[str, str]:
        """What the UI's #model-info and /healthz report."""
        return {
            "chat_model": self.llm.name,
            "embedding_model": self.embedder.name,
            "device": getattr(self.llm, "device", "remote"),
            "engine": getattr(self.llm, "engine", "?"),
        }

    def close(self) -> None:
        self.knowledge_base.close()
        self.db.close()


def quiet_third_party() -> None:
    """Offline-friendly defaults for libraries that would otherwise phone home."""
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def build_services(
    settings: Settings,
    *,
    llm: "ChatBackend | None" = None,
    embedder: "Embedder | None" = None,
) -> Services:
    """Create the data dir, open storage, load models, recover interrupted indexing.

    ``llm``/``embedder`` let tests and benchmarks share already-loaded models.
    """
    from access import AccessPolicy
    from llm.factory import make_backend
    from rag.embeddings import make_embedder
    from rag.knowledge_base import KnowledgeBase
    from rag.page_render import PageViewer
    from rag.pipeline import ConversationManager
    from storage.db import Database
    from storage.documents import DocumentRegistry
    from storage.history import HistoryManager
    from storage.positions import PositionStore

    quiet_third_party()
    access = AccessPolicy.from_settings(settings)  # a bad credentials file fails before models load
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.db_path)
    history = HistoryManager(db, idle_minutes=settings.idle_minutes)
    documents = DocumentRegistry(db)
    embedder = embedder or make_embedder(settings)
    knowledge_base = KnowledgeBase(settings, documents, embedder, positions=PositionStore(db))
    knowledge_base.recover()
    pages = PageViewer(settings, knowledge_base, knowledge_base.positions)
    # Documents indexed before chunk positions existed get them in the background; the
    # page route derives a document's positions on demand meanwhile.
    threading.Thread(target=pages.derive_missing, name="derive-positions", daemon=True).start()
    llm = llm or make_backend(settings)
    pipeline = ConversationManager(settings, llm=llm, knowledge_base=knowledge_base, history=history)
    log.info("chat model: %s on %s; embeddings: %s", llm.name, getattr(llm, "device", "remote"), embedder.name)
    return Services(settings, llm, embedder, db, history, documents, knowledge_base, pipeline, pages, access)
