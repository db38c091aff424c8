"""The knowledge base: PDFs in, cited chunks out. Keeps registry, Chroma, BM25 and files in step.

One instance per app, shared by every thread. Writes (add, delete, recover) hold one
lock so the three stores change together; searches take no lock (Chroma handles its
own concurrency and the BM25 index is swapped atomically). Ingesting never raises for
a bad file: it returns ``IngestResult(status='failed', error=...)`` with a message a
user can act on.
"""

from __future__ import annotations

import builtins
import hashlib
import logging
import os
import shutil
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from access import document_scope
from rag.embeddings import Embedder
from rag.keyword_index import BM25Index
from rag.pdf_loader import load_pages
from rag.retriever import CrossEncoderReranker, HybridRetriever
from rag.splitter import embedding_text, split_pages
from rag.text_cleaning import clean_pages
from rag.types import DocchatError, IngestResult, Page, ProgressCallback, Source
from rag.vector_store import ChromaStore, collection_name
from storage.documents import Document, DocumentExists, DocumentNotFound, DocumentRegistry

logger = logging.getLogger(__name__)

INTERRUPTED = "interrupted; upload again"
_HASH_BLOCK = 1 << 20


class IngestTimeout(DocchatError):
    """Indexing one PDF took longer than settings.ingest_timeout_s."""


@dataclass
class _Scope:
    """The indexes of one owner scope (shared, or one user's private documents)."""

    store: ChromaStore
    bm25: BM25Index
    retriever: HybridRetriever


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


class KnowledgeBase:
    """add_file / add_bytes / delete / list / search / recover over registry + Chroma + BM25."""

    def __init__(self, settings: Any, registry: DocumentRegistry, embedder: Embedder,
                 reranker: Any | None = None) -> None:
        self.settings = settings
        self.registry = registry
        self.embedder = embedder
        self.reranker = reranker
        if reranker is None and getattr(settings, "reranker_model", None):
            device = getattr(embedder, "device", "cpu")
            self.reranker = CrossEncoderReranker(settings.reranker_model, device)
        self._write_lock = threading.RLock()
        self._scopes_lock = threading.Lock()
        self._scopes: dict[str, _Scope] = {}
        self._scope("")  # opens the shared collection now: a model mismatch fails at start

    # --- scopes -----------------------------------------------------------------
    def _owner(self, owner: str | None) -> str:
        """The registry key of a scope: '' for the shared one (the rule is access.document_scope)."""
        return document_scope(self.settings, owner) or ""

    def _scope(self, owner: str) -> _Scope:
        with self._scopes_lock:
            scope = self._scopes.get(owner)
            if scope is None:
                name = collection_name(owner)
                store = ChromaStore(self.settings.chroma_dir, self.embedder.name, self.embedder.dimension, name)
                bm25 = BM25Index(self.settings.bm25_dir / name)
                bm25.sync_with(store)  # rebuilt from Chroma if its files are missing or disagree
                scope = _Scope(store, bm25, HybridRetriever(store, bm25, self.embedder, self.reranker,
                                                              dense_weight=self.settings.dense_weight))
                self._scopes[owner] = scope
            return scope

    # --- adding -----------------------------------------------------------------
    def add_file(self, path: Path | str, filename: str | None = None, owner: str | None = None,
                 progress: ProgressCallback | None = None) -> IngestResult:
        """Index the PDF at ``path`` under the display name ``filename``."""
        path = Path(path)
        filename = Path(filename or path.name).name
        try:
            document_id = _sha256_file(path)
        except OSError as exc:
            return IngestResult(None, filename, "failed", error=f"{filename}: cannot read the file ({exc.strerror or exc})")
        return self._add(document_id, filename, self._owner(owner), progress,
                         lambda target: shutil.copyfile(path, target))

    def add_bytes(self, data: bytes, filename: str, owner: str | None = None,
                  progress: ProgressCallback | None = None) -> IngestResult:
        """Index an uploaded PDF given as bytes."""
        filename = Path(filename).name
        return self._add(hashlib.sha256(data).hexdigest(), filename, self._owner(owner), progress,
                         lambda target: Path(target).write_bytes(data))

    def _add(self, document_id: str, filename: str, owner: str,
             progress: ProgressCallback | None, write_original) -> IngestResult:
        try:
            self.registry.begin(document_id, filename, owner, self.embedder.name)
        except DocumentExists as exc:
            existing = exc.document
            return IngestResult(document_id, filename, "duplicate", existing.pages, existing.chunks)
        stored = self.settings.files_dir / f"{document_id}.pdf"
        try:
            self._store_original(stored, write_original)
            return self._index(document_id, filename, owner, stored, progress)
        except Exception as exc:  # never raise for a bad file: report it on the document
            if isinstance(exc, DocchatError):
                error = str(exc)
            else:
                logger.exception("indexing %s failed", filename)
                error = f"{filename}: could not be indexed ({type(exc).__name__}: {exc})"
            self._discard(document_id, owner)
            self.registry.mark_failed(document_id, owner, error)
            self._remove_original(document_id)
            return IngestResult(document_id, filename, "failed", error=error)

    def _store_original(self, target: Path, write_original) -> None:
        """Keep the upload under files_dir/<sha256>.pdf, written atomically (tmp + rename)."""
        if target.exists():
            return
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
        try:
            write_original(tmp)
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)

    def _index(self, document_id: str, filename: str, owner: str, stored: Path,
               progress: ProgressCallback | None) -> IngestResult:
        deadline = time.monotonic() + float(getattr(self.settings, "ingest_timeout_s", 1800.0))

        def report(stage: str, done: int, total: int) -> None:
            if time.monotonic() > deadline:
                raise IngestTimeout(f"{filename}: indexing took longer than {self.settings.ingest_timeout_s:.0f} s")
            if progress:
                progress(stage, done, total)

        started = time.perf_counter()
        raw = load_pages(stored, report, name=filename,
                         timeout_s=getattr(self.settings, "pdf_parse_timeout_s", None))
        texts = clean_pages([page.text for page in raw])
        pages = [Page(page.number, text) for page, text in zip(raw, texts)]
        warnings = []
        empty = sum(1 for page in pages if not page.text.strip())
        if empty:
            warnings.append(f"{empty} of {len(pages)} page(s) have no text")
        chunk_tokens = min(self.settings.chunk_tokens, self.embedder.max_tokens - 2)
        chunks = split_pages(pages, document_id, filename, self.embedder.tokenizer,
                             chunk_tokens, min(self.settings.chunk_overlap, chunk_tokens // 2))
        if not chunks:
            raise DocchatError(f"{filename}: no text found in the PDF")
        vectors = self.embedder.embed_documents([embedding_text(c) for c in chunks],
                                                progress=lambda d, t: report("embedding", d, t))
        scope = self._scope(owner)
        with self._write_lock:
            scope.store.add(chunks, vectors)
            scope.bm25.add(chunks)
            try:
                self.registry.mark_ready(document_id, owner, len(pages), len(chunks))
            except DocumentNotFound:  # deleted while we were indexing: leave no trace
                scope.store.delete_document(document_id)
                scope.bm25.delete_document(document_id)
                self._remove_original(document_id)
                raise DocchatError(f"{filename}: deleted while it was being indexed")
        logger.info("indexed %s: %d pages, %d chunks in %.1f s", filename, len(pages), len(chunks),
                    time.perf_counter() - started)
        return IngestResult(document_id, filename, "ready", len(pages), len(chunks), warnings=warnings)

    def _discard(self, document_id: str, owner: str) -> None:
        """Remove whatever chunks of the document reached the indexes."""
        scope = self._scope(owner)
        with self._write_lock:
            scope.store.delete_document(document_id)
            scope.bm25.delete_document(document_id)

    def _remove_original(self, document_id: str) -> None:
        """Delete the stored file unless another owner's registry row still uses it."""
        if any(doc.id == document_id and doc.status != "failed"
               for status in ("indexing", "ready") for doc in self.registry.list_by_status(status)):
            return
        (self.settings.files_dir / f"{document_id}.pdf").unlink(missing_ok=True)

    # --- deleting, listing, searching ---------------------------------------------
    def delete(self, document_id: str, owner: str | None = None) -> bool:
        """Remove the document from Chroma, BM25, the registry and the file store."""
        owner_key = self._owner(owner)
        scope = self._scope(owner_key)
        with self._write_lock:
            in_index = document_id in scope.bm25.document_ids()
            scope.store.delete_document(document_id)
            scope.bm25.delete_document(document_id)
            existed = self.registry.delete(document_id, owner_key)
            self._remove_original(document_id)
        if existed or in_index:
            logger.info("deleted document %s", document_id[:12])
        return existed or in_index

    def list(self, owner: str | None = None) -> builtins.list[Document]:
        return self.registry.list(self._owner(owner))

    def has_documents(self, owner: str | None = None) -> bool:
        return any(doc.status == "ready" for doc in self.list(owner))

    def search(self, queries: str | builtins.list[str], k: int = 5,
               document_ids: builtins.list[str] | None = None, owner: str | None = None) -> builtins.list[Source]:
        """Hybrid search over the owner's ready documents; scores are fused ranks (higher is better)."""
        return self._scope(self._owner(owner)).retriever.search(queries, k, document_ids)

    # --- start-up recovery ----------------------------------------------------------
    def recover(self) -> None:
        """After a crash: fail out documents left 'indexing' and make registry, Chroma and BM25 agree."""
        with self._write_lock:
            for doc in self.registry.list_by_status("indexing"):
                logger.warning("document %s (%s) was interrupted while indexing", doc.filename, doc.id[:12])
                self._discard(doc.id, doc.owner)
                self.registry.mark_failed(doc.id, doc.owner, INTERRUPTED)
                self._remove_original(doc.id)
            owners = {""} | {doc.owner for status in ("ready", "failed")
                             for doc in self.registry.list_by_status(status)}
            for owner in owners:
                scope = self._scope(owner)
                ready = {doc.id for doc in self.registry.list(owner) if doc.status == "ready"}
                indexed = scope.store.document_ids()
                for lost in ready - indexed:
                    logger.warning("document %s is ready but has no chunks in the index", lost[:12])
                    self.registry.mark_failed(lost, owner, "its index was lost; upload again")
                ready &= indexed
                for orphan in indexed - ready:
                    logger.warning("removing orphan chunks of %s from the index", orphan[:12])
                    scope.store.delete_document(orphan)
                for orphan in scope.bm25.document_ids() - ready:
                    scope.bm25.delete_document(orphan)
                scope.bm25.sync_with(scope.store)
