"""The documents registry: which PDFs exist, and how far their indexing got.

A document's id is the sha256 of its bytes, so the same file uploaded twice is one
document. ``owner`` is '' for the shared collection, or the user id with
``--private-docs``. The status walks ``indexing`` → ``ready`` | ``failed``; a row left
at ``indexing`` after a crash is found with ``list_by_status('indexing')`` on start-up
and failed out or re-indexed by the knowledge base. ``begin`` is atomic, so two uploads
of the same file at the same moment cannot both start indexing it.
"""

from __future__ import annotations

import builtins
import logging
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from typing import Any

from errors import DocchatError
from storage.db import Database

logger = logging.getLogger(__name__)

STATUSES = ("indexing", "ready", "failed")


class DocumentExists(DocchatError):
    """``begin`` on a document that is already indexing or ready (a duplicate upload)."""

    http_status = 409

    def __init__(self, document: Document) -> None:
        super().__init__(f"document {document.id} ({document.filename}) is already {document.status}")
        self.document = document


class DocumentNotFound(DocchatError, LookupError):
    """The document is not in the registry (e.g. deleted while it was being indexed)."""

    http_status = 404
    ui_key = "already_removed"


@dataclass
class Document:
    id: str
    filename: str
    status: str  # 'indexing' | 'ready' | 'failed'
    pages: int
    chunks: int
    error: str | None
    embedding_model: str
    owner: str
    created_at: str  # ISO-8601 UTC with microseconds

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _document(row: sqlite3.Row) -> Document:
    return Document(
        id=row["id"],
        filename=row["filename"],
        status=row["status"],
        pages=row["pages"],
        chunks=row["chunks"],
        error=row["error"],
        embedding_model=row["embedding_model"],
        owner=row["owner"],
        created_at=row["created_at"],
    )


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


class DocumentRegistry:
    """Rows of the ``documents`` table, one per (document id, owner)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, document_id: str, owner: str = "") -> Document | None:
        rows = self.db.query("SELECT * FROM documents WHERE id = ? AND owner = ?", (document_id, owner))
        return _document(rows[0]) if rows else None

    def list(self, owner: str = "") -> builtins.list[Document]:
        """The owner's documents, newest first, whatever their status."""
        rows = self.db.query(
            "SELECT * FROM documents WHERE owner = ? ORDER BY created_at DESC, rowid DESC", (owner,)
        )
        return [_document(row) for row in rows]

    def list_by_status(self, status: str) -> builtins.list[Document]:
        """Documents of every owner in one status (start-up recovery looks for 'indexing')."""
        if status not in STATUSES:
            raise ValueError(f"status must be one of {STATUSES}, not {status!r}")
        rows = self.db.query(
            "SELECT * FROM documents WHERE status = ? ORDER BY created_at DESC, rowid DESC", (status,)
        )
        return [_document(row) for row in rows]

    def begin(self, document_id: str, filename: str, owner: str = "", embedding_model: str = "") -> Document:
        """Register a document as 'indexing'; a 'failed' one is replaced (a retry).

        Raises ``DocumentExists`` (carrying the existing row) when it is already
        indexing or ready: the caller reports the upload as a duplicate.
        """
        document = Document(document_id, filename, "indexing", 0, 0, None, embedding_model, owner, _now())
        with self.db.transaction() as conn:
            row = conn.execute(
                "SELECT * FROM documents WHERE id = ? AND owner = ?", (document_id, owner)
            ).fetchone()
            if row is not None and row["status"] != "failed":
                raise DocumentExists(_document(row))
            conn.execute(
                "INSERT OR REPLACE INTO documents "
                "(id, owner, filename, status, pages, chunks, error, embedding_model, created_at) "
                "VALUES (?, ?, ?, 'indexing', 0, 0, NULL, ?, ?)",
                (document_id, owner, filename, embedding_model, document.created_at),
            )
        logger.info("Indexing %s (%s) for owner %r", filename, document_id[:12], owner)
        return document

    def mark_ready(self, document_id: str, owner: str, pages: int, chunks: int) -> None:
        """Indexing finished. Raises ``DocumentNotFound`` if the row was deleted meanwhile,
        so the caller can remove the chunks it just wrote."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE documents SET status = 'ready', pages = ?, chunks = ?, error = NULL "
                "WHERE id = ? AND owner = ?",
                (pages, chunks, document_id, owner),
            )
            if cursor.rowcount == 0:
                raise DocumentNotFound(f"no document {document_id!r} for owner {owner!r}")

    def mark_failed(self, document_id: str, owner: str, error: str) -> None:
        """Indexing failed with a message for the user. A missing row is only logged:
        there is nothing left to mark, and this often runs inside an error handler."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "UPDATE documents SET status = 'failed', error = ? WHERE id = ? AND owner = ?",
                (error, document_id, owner),
            )
        if cursor.rowcount == 0:
            logger.warning("Cannot mark %s failed: not in the registry", document_id[:12])
        else:
            logger.info("Document %s failed: %s", document_id[:12], error)

    def delete(self, document_id: str, owner: str = "") -> bool:
        """Remove the row; False when there was none."""
        with self.db.transaction() as conn:
            cursor = conn.execute("DELETE FROM documents WHERE id = ? AND owner = ?", (document_id, owner))
        return cursor.rowcount > 0

    # --- cheap questions a turn or a delete asks (no listing of every document) -------
    def has_ready(self, owner: str = "") -> bool:
        """Whether the owner has at least one ready document."""
        return bool(self.db.query("SELECT 1 FROM documents WHERE owner = ? AND status = 'ready' LIMIT 1", (owner,)))

    def in_use(self, document_id: str) -> bool:
        """Whether any owner still has the document indexing or ready (its stored file is needed)."""
        return bool(self.db.query(
            "SELECT 1 FROM documents WHERE id = ? AND status IN ('indexing', 'ready') LIMIT 1", (document_id,)))

    def owners(self) -> set[str]:
        """Every owner with a row, plus '' (the shared scope always exists)."""
        return {""} | {row[0] for row in self.db.query("SELECT DISTINCT owner FROM documents")}

    def ready_chunk_counts(self, owner: str = "") -> dict[str, int]:
        """Chunks per ready document of the owner: what the indexes must hold."""
        rows = self.db.query("SELECT id, chunks FROM documents WHERE owner = ? AND status = 'ready'", (owner,))
        return {row[0]: row[1] for row in rows}

    # --- deletes whose Chroma half may not have happened (crash in between) -----------
    def note_pending_delete(self, document_id: str, owner: str = "") -> None:
        with self.db.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO pending_deletes (document_id, owner) VALUES (?, ?)",
                         (document_id, owner))

    def clear_pending_delete(self, document_id: str, owner: str = "") -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM pending_deletes WHERE document_id = ? AND owner = ?", (document_id, owner))

    def pending_deletes(self) -> builtins.list[tuple[str, str]]:
        return [(row[0], row[1]) for row in self.db.query("SELECT document_id, owner FROM pending_deletes")]
