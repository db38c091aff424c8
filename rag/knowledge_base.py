"""The knowledge base: PDFs in, cited chunks out. Keeps registry, Chroma, keywords and files in step.

One instance per app, shared by every thread. Writes (add, delete, recover) hold one
lock so the stores change together; searches take no lock (Chroma and SQLite handle
their own concurrency). Ingesting never raises for a bad file: it returns
``IngestResult(status='failed', error=...)`` with a message a user can act on.

How the stores stay in step without scanning them: the keyword index lives in the
registry's SQLite file, and a document's keyword rows commit in the same transaction
that marks it ready (or deletes it). Chroma is written before that commit on an add
(a crash leaves an 'indexing' row, whose chunks start-up removes by id) and after it
on a delete (a ``pending_deletes`` row, finished at start-up). Start-up compares
counts (registry vs keyword rows vs Chroma's collection count) and only scans Chroma
when they disagree.
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
from typing import Any, Sequence

from errors import user_message
from rag.embeddings import Embedder
from rag.keyword_index import KeywordIndex, import_legacy_bm25
from rag import section_weighing
from rag.page_roles import chunk_sections, matches_section
from rag.section_weighing import weigh_sections
from rag.pdf_loader import load_pages
from rag.pdf_worker import ParseWorkers
from rag.page_render import CACHE_DIR_NAME as PAGE_CACHE_DIR
from rag.positions import locate_chunks
from rag.reembed import open_store
from rag.reranker import make_reranker
from rag.retriever import HybridRetriever
from rag.splitter import embedding_text, keyword_chunk, split_pages
from rag.text_cleaning import clean_pages
from rag.types import Chunk, DocchatError, IngestResult, Page, ProgressCallback, Source
from rag.vector_store import ChromaStore, collection_name
from settings import Settings
from storage.documents import Document, DocumentExists, DocumentNotFound, DocumentRegistry

logger = logging.getLogger(__name__)

INTERRUPTED = "interrupted; upload again"
SECTION_POOL = 30  # pages a statement or section weighing (or a section filter) chooses among
_HASH_BLOCK = 1 << 20


class IngestTimeout(DocchatError):
    """Indexing one PDF took longer than settings.ingest_timeout_s."""


@dataclass
class _Scope:
    """The indexes of one owner scope (shared, or one user's private documents)."""

    store: ChromaStore
    retriever: HybridRetriever


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(_HASH_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


class KnowledgeBase:
    """add_file / add_bytes / delete / list / search / recover over registry + Chroma + keywords."""

    def __init__(self, settings: Settings, registry: DocumentRegistry, embedder: Embedder,
                 reranker: Any | None = None, positions: Any | None = None) -> None:
        self.settings = settings
        self.positions = positions  # storage.positions.PositionStore: where chunks sit on pages
        self.registry = registry
        self.embedder = embedder
        self.reranker = reranker
        if reranker is None:
            self.reranker = make_reranker(settings.reranker_model, getattr(embedder, "device", "cpu"))
        self.parsers = ParseWorkers()  # PDF parsing in reusable, killable child processes
        self._write_lock = threading.RLock()
        self._scopes_lock = threading.Lock()
        self._scopes: dict[str, _Scope] = {}
        self.keywords = KeywordIndex(registry.db)
        self._scope("")  # opens the shared collection now: a model mismatch fails at start
        legacy = self.settings.bm25_dir
        if legacy.is_dir():  # a data dir of the previous version: per-document token files
            import_legacy_bm25(self.keywords, legacy, {collection_name(o): o for o in self.registry.owners()})

    def close(self) -> None:
        """Stop the idle parser processes (the stores close with the process)."""
        self.parsers.close()

    # --- scopes -----------------------------------------------------------------
    @staticmethod
    def _owner(owner: str | None) -> str:
        """The registry key of a scope: '' for the shared one. ``owner`` arguments name the
        scope itself, decided by services/access.py (a user id with --private-docs, else None)."""
        return owner or ""

    def _scope(self, owner: str) -> _Scope:
        with self._scopes_lock:
            scope = self._scopes.get(owner)
            if scope is None:
                # built with another embedding model: re-embedded first (rag/reembed.py)
                store = open_store(self.settings.chroma_dir, collection_name(owner), self.embedder,
                                   url=self.settings.chroma_url)
                scope = _Scope(store, HybridRetriever(store, self.keywords.scoped(owner), self.embedder,
                                                      self.reranker, dense_weight=self.settings.dense_weight))
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
            error = user_message(exc)
            if error is None:
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
        deadline = time.monotonic() + self.settings.ingest_timeout_s

        def report(stage: str, done: int, total: int) -> None:
            if time.monotonic() > deadline:
                raise IngestTimeout(f"{filename}: indexing took longer than {self.settings.ingest_timeout_s:.0f} s")
            if progress:
                progress(stage, done, total)

        started = time.perf_counter()
        raw = load_pages(stored, report, name=filename,
                         timeout_s=self.settings.pdf_parse_timeout_s, workers=self.parsers)
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
            try:
                with self.registry.db.transaction():  # keyword rows and 'ready' commit together
                    self.keywords.add([keyword_chunk(c) for c in chunks], owner)  # prefix searchable too
                    self.registry.mark_ready(document_id, owner, len(pages), len(chunks))
            except DocumentNotFound:  # deleted while we were indexing: leave no trace
                scope.store.delete_document(document_id)
                self._remove_original(document_id)
                raise DocchatError(f"{filename}: deleted while it was being indexed")
        self._save_positions(document_id, filename, stored, chunks)
        logger.info("indexed %s: %d pages, %d chunks in %.1f s", filename, len(pages), len(chunks),
                    time.perf_counter() - started)
        return IngestResult(document_id, filename, "ready", len(pages), len(chunks), warnings=warnings)

    def _save_positions(self, document_id: str, filename: str, stored: Path, chunks) -> None:
        """Record where each chunk sits on its page; a failure costs highlights, not the document."""
        if self.positions is None or self.positions.has_document(document_id):
            return
        try:
            self.positions.save(document_id, locate_chunks(stored, chunks))
        except Exception as exc:  # the page route derives them again on first use
            logger.warning("could not locate the chunks of %s on their pages: %s", filename, exc)

    def document_chunks(self, document_id: str, owner: str | None = None) -> builtins.list[Chunk]:
        """The indexed chunks of one document (for re-deriving their page positions)."""
        return builtins.list(self._scope(self._owner(owner)).store.iter_chunks(document_id))

    def _discard(self, document_id: str, owner: str) -> None:
        """Remove whatever chunks of the document reached the indexes."""
        scope = self._scope(owner)
        with self._write_lock:
            scope.store.delete_document(document_id)
            self.keywords.delete_document(document_id, owner)

    def _remove_original(self, document_id: str) -> None:
        """Delete the stored file unless another owner's registry row still uses it."""
        if self.registry.in_use(document_id):
            return
        (self.settings.files_dir / f"{document_id}.pdf").unlink(missing_ok=True)
        if self.positions is not None:
            self.positions.delete_document(document_id)
        shutil.rmtree(Path(self.settings.data_dir) / PAGE_CACHE_DIR / document_id, ignore_errors=True)

    # --- deleting, listing, searching ---------------------------------------------
    def delete(self, document_id: str, owner: str | None = None) -> bool:
        """Remove the document from the registry, keywords, Chroma and the file store."""
        owner_key = self._owner(owner)
        scope = self._scope(owner_key)
        with self._write_lock:
            with self.registry.db.transaction():  # gone from search at once, in one commit
                in_index = self.keywords.delete_document(document_id, owner_key)
                existed = self.registry.delete(document_id, owner_key)
                self.registry.note_pending_delete(document_id, owner_key)
            scope.store.delete_document(document_id)
            self.registry.clear_pending_delete(document_id, owner_key)
            self._remove_original(document_id)
        if existed or in_index:
            logger.info("deleted document %s", document_id[:12])
        return existed or in_index

    def list(self, owner: str | None = None) -> builtins.list[Document]:
        return self.registry.list(self._owner(owner))

    def get(self, document_id: str, owner: str | None = None) -> Document | None:
        return self.registry.get(document_id, self._owner(owner))

    def has_documents(self, owner: str | None = None) -> bool:
        return self.registry.has_ready(self._owner(owner))

    def search(self, queries: str | builtins.list[str], k: int = 5,
               document_ids: builtins.list[str] | None = None, owner: str | None = None,
               phrasings: Sequence[str] = (), phrasing_weight: float = 1.0,
               statements: Sequence[str] = (), section: str | None = None) -> builtins.list[Source]:
        """Hybrid search over the owner's ready documents; scores are fused ranks (higher is better).

        ``phrasings``: the chat model's search phrasings, fused at ``phrasing_weight`` (rag/retriever.py).
        ``statements``: the statements the question's line items live on ("balance sheet",
        "cash_flow", rag/page_roles.py): pages on them are weighed up among the best
        ``SECTION_POOL`` pages. ``section``: only results under a section (or statement) that
        matches it, e.g. "risk factors", "balance sheet" (the API's filter).
        """
        owner_key = self._owner(owner)
        retriever = self._scope(owner_key).retriever
        named = queries if isinstance(queries, str) else (queries[0] if queries else "")
        if not statements and section is None and not section_weighing.SECTION_WEIGHT:
            return retriever.search(queries, k, document_ids, phrasings, phrasing_weight)
        if section is not None:
            document_ids = self._documents_with_section(section, owner_key, document_ids)
            if not document_ids:
                return []
        pool = retriever.search(queries, max(k, SECTION_POOL), document_ids, phrasings, phrasing_weight)
        if section is not None:
            pool = [s for s in pool if matches_section(s.section, section)]
        return weigh_sections(pool, named, statements)[:k]

    def _documents_with_section(self, section: str, owner: str,
                                document_ids: builtins.list[str] | None) -> builtins.list[str]:
        """The documents (of ``document_ids`` when given) with a chunk under a matching section."""
        found = self.keywords.sections(owner, document_ids)
        return sorted({d for name, docs in found.items() if matches_section(name, section) for d in docs})

    def routed_documents(self, queries: builtins.list[str], document_ids: builtins.list[str] | None = None,
                         owner: str | None = None) -> builtins.list[str]:
        """The documents ``search`` weighs up for these queries: the ones they name (rag/routing.py)."""
        return self._scope(self._owner(owner)).retriever.routed_documents(queries, document_ids)

    def fill_sections(self, progress: ProgressCallback | None = None) -> int:
        """Give the chunks of documents indexed before sections existed their sections, found
        again from the stored PDFs' pages (no re-embedding); returns the documents filled.

        A document any of whose chunks has a section is skipped; one without headings or
        statements is read again on every run (and stays without sections)."""
        done = 0
        documents = self.registry.list_by_status("ready")
        for i, doc in enumerate(documents, start=1):
            if progress:
                progress("sections", i, len(documents))
            scope = self._scope(doc.owner)
            chunks = builtins.list(scope.store.iter_chunks(doc.id))
            stored = self.settings.files_dir / f"{doc.id}.pdf"
            if not chunks or any(c.section for c in chunks) or not stored.exists():
                continue
            raw = load_pages(stored, name=doc.filename, timeout_s=self.settings.pdf_parse_timeout_s,
                             workers=self.parsers)
            texts = clean_pages([page.text for page in raw])
            sections = dict(zip((c.id for c in chunks), chunk_sections(texts, [(c.page, c.text) for c in chunks])))
            with self._write_lock:
                scope.store.set_sections(sections)
                self.keywords.set_sections(sections, doc.owner)
            done += 1
        return done

    # --- start-up recovery ----------------------------------------------------------
    def recover(self) -> None:
        """After a crash: fail out documents left 'indexing', finish interrupted deletes,
        and make registry, keywords and Chroma agree (scanning Chroma only if counts differ)."""
        with self._write_lock:
            for doc in self.registry.list_by_status("indexing"):
                logger.warning("document %s (%s) was interrupted while indexing", doc.filename, doc.id[:12])
                self._discard(doc.id, doc.owner)
                self.registry.mark_failed(doc.id, doc.owner, INTERRUPTED)
                self._remove_original(doc.id)
            for document_id, owner in self.registry.pending_deletes():
                doc = self.registry.get(document_id, owner)
                if doc is None or doc.status != "ready":
                    logger.warning("finishing the interrupted delete of %s", document_id[:12])
                    self._scope(owner).store.delete_document(document_id)
                self.registry.clear_pending_delete(document_id, owner)
            for owner in sorted(self.registry.owners()):
                self._reconcile(owner)

    def _reconcile(self, owner: str) -> None:
        """Make one scope's Chroma collection and keyword rows hold exactly its ready documents."""
        scope = self._scope(owner)
        ready = self.registry.ready_chunk_counts(owner)
        if scope.store.count() != sum(ready.values()):  # rare: only then pay for a full scan
            indexed = scope.store.chunk_counts()
            logger.warning("Chroma collection %s disagrees with the registry: repairing", scope.store.name)
            for lost in [d for d in ready if d not in indexed]:
                logger.warning("document %s is ready but has no chunks in the index", lost[:12])
                self.registry.mark_failed(lost, owner, "its index was lost; upload again")
                del ready[lost]
            for orphan in indexed.keys() - ready.keys():
                logger.warning("removing orphan chunks of %s from the index", orphan[:12])
                scope.store.delete_document(orphan)
        keyword = self.keywords.chunk_counts(owner)
        for orphan in keyword.keys() - ready.keys():
            self.keywords.delete_document(orphan, owner)
        stale = [d for d, n in ready.items() if keyword.get(d) != n]
        if stale:
            logger.info("re-indexing keywords of %d document(s) from Chroma", len(stale))
        for document_id in stale:
            self.keywords.add([keyword_chunk(c) for c in scope.store.iter_chunks(document_id)], owner)
