"""Read the three stores of a data dir straight from disk and say whether they agree.

Used after crashes and fuzzing: the registry (SQLite), Chroma and the keyword index
(FTS5 rows in the same SQLite file) must name the same ready documents in every owner
scope, with no orphan chunks. Read from disk, not through ``KnowledgeBase``, whose
start-up would quietly repair them.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from rag.vector_store import collection_name


@dataclass
class ScopeState:
    registry_ready: set[str] = field(default_factory=set)
    registry_indexing: set[str] = field(default_factory=set)
    chroma: set[str] = field(default_factory=set)
    bm25: set[str] = field(default_factory=set)

    def agrees(self) -> bool:
        return not self.registry_indexing and self.registry_ready == self.chroma == self.bm25


def registry_rows(data_dir: Path) -> list[dict]:
    conn = sqlite3.connect(f"file:{data_dir / 'docchat.sqlite3'}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return [dict(row) for row in conn.execute("SELECT id, owner, filename, status, error, chunks FROM documents")]
    finally:
        conn.close()


def _chroma_document_ids(data_dir: Path) -> dict[str, set[str]]:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.PersistentClient(path=str(data_dir / "chroma"), settings=ChromaSettings(anonymized_telemetry=False))
    out: dict[str, set[str]] = {}
    for collection in client.list_collections():
        got = collection.get(include=["metadatas"])
        out[collection.name] = {meta["document_id"] for meta in got["metadatas"] or []}
    return out


def _bm25_document_ids(data_dir: Path) -> dict[str, set[str]]:
    conn = sqlite3.connect(f"file:{data_dir / 'docchat.sqlite3'}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT DISTINCT owner, document_id FROM keyword_chunks").fetchall()
    finally:
        conn.close()
    out: dict[str, set[str]] = {}
    for owner, document_id in rows:
        out.setdefault(collection_name(owner), set()).add(document_id)
    return out


def index_state(data_dir: Path) -> dict[str, ScopeState]:
    """Per collection name: ready / indexing ids in the registry, ids in Chroma and in BM25."""
    states: dict[str, ScopeState] = {}
    for row in registry_rows(data_dir):
        state = states.setdefault(collection_name(row["owner"]), ScopeState())
        if row["status"] == "ready":
            state.registry_ready.add(row["id"])
        elif row["status"] == "indexing":
            state.registry_indexing.add(row["id"])
    for name, ids in _chroma_document_ids(data_dir).items():
        states.setdefault(name, ScopeState()).chroma = ids
    for name, ids in _bm25_document_ids(data_dir).items():
        states.setdefault(name, ScopeState()).bm25 = ids
    return states


def disagreements(data_dir: Path) -> dict[str, ScopeState]:
    """The scopes whose stores disagree (empty when all is consistent)."""
    return {name: state for name, state in index_state(data_dir).items() if not state.agrees()}


def stored_files(data_dir: Path) -> set[str]:
    """Names under data_dir/files (hash-named originals only, never a user's file name)."""
    files = data_dir / "files"
    return {p.name for p in files.iterdir()} if files.is_dir() else set()
