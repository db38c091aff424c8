"""Chunk positions in SQLite: written at ingestion, read by the page renderer.

A thin table gateway over ``chunk_positions`` (migration m003). Rows are per chunk id;
``positioned_documents`` records which documents have been through the locator, so
start-up re-derivation only touches documents indexed before positions existed.
``ChunkPosition`` (the row) lives here; rag/positions.py computes them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Iterable

from storage.db import Database

Rect = list[float]  # [x0, y0, x1, y1], normalised to the page (0..1), origin top-left


@dataclass
class ChunkPosition:
    """One chunk's place on its page (DESIGN: stored with the chunk)."""

    chunk_id: str
    document_id: str
    page: int
    char_start: int
    char_end: int
    rects: list[Rect]
    source: str = "text"


class PositionStore:
    """Read and write ``ChunkPosition`` rows."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, document_id: str, positions: Iterable[ChunkPosition]) -> None:
        """Replace the document's positions (idempotent: re-ingesting writes the same rows)."""
        rows = [(p.chunk_id, p.document_id, p.page, p.char_start, p.char_end, json.dumps(p.rects), p.source)
                for p in positions]
        now = datetime.now(timezone.utc).isoformat(timespec="microseconds")
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM chunk_positions WHERE document_id = ?", (document_id,))
            conn.executemany(
                "INSERT OR REPLACE INTO chunk_positions "
                "(chunk_id, document_id, page, char_start, char_end, rects, source) VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            conn.execute("INSERT OR REPLACE INTO positioned_documents (document_id, derived_at) VALUES (?, ?)",
                         (document_id, now))

    def get(self, chunk_id: str) -> ChunkPosition | None:
        rows = self.db.query("SELECT * FROM chunk_positions WHERE chunk_id = ?", (chunk_id,))
        if not rows:
            return None
        row = rows[0]
        return ChunkPosition(row["chunk_id"], row["document_id"], row["page"], row["char_start"],
                             row["char_end"], json.loads(row["rects"]), row["source"])

    def has_document(self, document_id: str) -> bool:
        return bool(self.db.query("SELECT 1 FROM positioned_documents WHERE document_id = ?", (document_id,)))

    def delete_document(self, document_id: str) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM chunk_positions WHERE document_id = ?", (document_id,))
            conn.execute("DELETE FROM positioned_documents WHERE document_id = ?", (document_id,))
