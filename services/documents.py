"""Documents for a caller: upload, list, delete, search, and a ready document's page image,
PDF and signed page links. Scope (whose documents) comes from services/access.py; the
indexing is ``KnowledgeBase``'s, the page images ``PageViewer``'s.
"""

from __future__ import annotations

import logging
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from errors import DocchatError, user_message
from llm.types import ChatBackend
from rag.condense import plan_search
from rag.knowledge_base import KnowledgeBase
from rag.page_render import MAX_WIDTH, MIN_WIDTH, PageNotFound, PageViewer
from rag.types import IngestResult, ProgressCallback, Source
from services import page_links
from services.access import NOT_FOUND, Access
from storage.documents import Document

log = logging.getLogger(__name__)

__all__ = ["MAX_WIDTH", "MIN_WIDTH", "Documents", "NOT_FOUND", "PageNotFound"]  # the page route's bounds


@contextmanager
def _not_found() -> Iterator[None]:
    """An unknown page or a vanished file reads like an unknown document: one message."""
    try:
        yield
    except PageNotFound as exc:
        raise PageNotFound(NOT_FOUND) from exc


class Documents:
    def __init__(self, knowledge_base: KnowledgeBase, pages: PageViewer, access: Access,
                 llm: ChatBackend | None = None, phrasing_weight: float = 0.5) -> None:
        self.knowledge_base = knowledge_base
        self.pages = pages
        self.access = access
        self.llm = llm  # only for a search that asks for the model's phrasings (expand)
        self.phrasing_weight = phrasing_weight

    # --- the library ----------------------------------------------------------------------
    def list(self, user_id: str) -> list[Document]:
        return self.knowledge_base.list(self.access.scope(user_id))

    def upload(self, user_id: str, data: bytes, filename: str) -> IngestResult:
        """Index one uploaded file; an unreadable one is a failed entry, not an error."""
        try:
            return self.knowledge_base.add_bytes(data, filename, owner=self.access.scope(user_id))
        except DocchatError as exc:
            error = user_message(exc)
            if error is None:  # our fault (a 500): the skin answers with an error id
                raise
            log.info("upload %r failed: %s", filename, exc)
            return IngestResult(id=None, filename=filename, status="failed", error=error)

    def add_file(self, user_id: str, path: Path, filename: str,
                 progress: ProgressCallback | None = None) -> IngestResult:
        return self.knowledge_base.add_file(path, filename, owner=self.access.scope(user_id), progress=progress)

    def delete(self, user_id: str, document_id: str) -> bool:
        """False when the caller has no such document."""
        return self.knowledge_base.delete(document_id, self.access.scope(user_id))

    def search(self, user_id: str, query: str, k: int = 5, document_ids: list[str] | None = None,
               expand: bool = False, section: str | None = None) -> list[Source]:
        """Hybrid search; ``expand`` adds the chat model's search phrasings of the query (one
        model call, rag/condense.py), as a chat turn does — model-free unless asked; ``section``
        keeps only results under that statement or heading (rag/page_roles.py)."""
        phrasings: tuple[str, ...] = ()
        if expand and self.llm is not None:
            phrasings = plan_search(self.llm, [], query, cache_key=f"{user_id}\x1fsearch-plan").phrasings
        return self.knowledge_base.search(query, k=k, document_ids=document_ids, owner=self.access.scope(user_id),
                                          phrasings=phrasings, phrasing_weight=self.phrasing_weight, section=section)

    # --- one ready document -----------------------------------------------------------------
    def ready(self, scope: str | None, document_id: str) -> Document:
        """The document if ``scope`` sees it and it is ready; ``PageNotFound`` otherwise
        (unknown and not yours look the same)."""
        doc = self.knowledge_base.get(document_id, scope)
        if doc is None or doc.status != "ready":
            raise PageNotFound(NOT_FOUND)
        return doc

    def page_png(self, scope: str | None, document_id: str, page: int, width: int | None = None,
                 chunk_id: str | None = None) -> bytes:
        """PNG of the 1-based ``page``; with ``chunk_id`` that chunk's text highlighted."""
        self.ready(scope, document_id)
        with _not_found():
            return self.pages.page_png(document_id, page, width, chunk_id, scope)

    def pdf(self, scope: str | None, document_id: str) -> tuple[Document, Path]:
        doc = self.ready(scope, document_id)
        with _not_found():
            return doc, self.pages.pdf_path(document_id)

    def page_count(self, scope: str | None, document_id: str) -> int:
        self.ready(scope, document_id)
        with _not_found():
            return self.pages.page_count(document_id)

    def page_links(self, scope: str | None, document_id: str, page: int, chunk_id: str | None = None,
                   width: int | None = None) -> tuple[str, str]:
        """(page image URL, PDF URL opened at the page), signed so a browser needs no headers."""
        key = self.access.link_key()
        return (page_links.page_url(key, document_id, scope or "", page, chunk_id, width),
                page_links.file_url(key, document_id, scope or "", page))
