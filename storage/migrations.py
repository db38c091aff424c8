"""Schema versions of the SQLite file, in the style of simonw/llm's ``migrations.py``.

Each migration is a named function that changes the schema once. ``migrate`` applies
the ones not yet recorded in ``_migrations``, inside the caller's transaction, so a
crash half-way leaves the file at the previous version, and two processes opening the
same file at once cannot apply a step twice (``BEGIN IMMEDIATE`` makes the second wait).
To change the schema, append a new function; never edit one that has shipped.
Statements are run one by one with ``execute``: ``executescript`` would commit.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone

Migration = Callable[[sqlite3.Connection], None]


def _run(conn: sqlite3.Connection, *statements: str) -> None:
    for statement in statements:
        conn.execute(statement)


def m001_initial(conn: sqlite3.Connection) -> None:
    """Users, conversations, messages and the documents registry."""
    _run(
        conn,
        """
        CREATE TABLE users (
            id          TEXT PRIMARY KEY,
            created_at  TEXT NOT NULL
        )
        """,
        """
        CREATE TABLE conversations (
            id          TEXT PRIMARY KEY,
            user_id     TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
            title       TEXT NOT NULL,
            created_at  TEXT NOT NULL,
            updated_at  TEXT NOT NULL
        )
        """,
        "CREATE INDEX idx_conversations_user_updated ON conversations(user_id, updated_at)",
        # seq orders messages: timestamps can tie (or go backwards with the clock).
        """
        CREATE TABLE messages (
            seq               INTEGER PRIMARY KEY AUTOINCREMENT,
            id                TEXT NOT NULL UNIQUE,
            conversation_id   TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
            role              TEXT NOT NULL CHECK (role IN ('system', 'user', 'assistant')),
            content           TEXT NOT NULL,
            created_at        TEXT NOT NULL,
            standalone_query  TEXT,
            sources           TEXT NOT NULL DEFAULT '[]',
            prompt_tokens     INTEGER,
            completion_tokens INTEGER,
            model             TEXT,
            params            TEXT NOT NULL DEFAULT '{}',
            status            TEXT NOT NULL DEFAULT 'complete'
                              CHECK (status IN ('complete', 'partial'))
        )
        """,
        "CREATE INDEX idx_messages_conversation_seq ON messages(conversation_id, seq)",
        """
        CREATE TABLE documents (
            id               TEXT NOT NULL,
            owner            TEXT NOT NULL DEFAULT '',
            filename         TEXT NOT NULL,
            status           TEXT NOT NULL CHECK (status IN ('indexing', 'ready', 'failed')),
            pages            INTEGER NOT NULL DEFAULT 0,
            chunks           INTEGER NOT NULL DEFAULT 0,
            error            TEXT,
            embedding_model  TEXT NOT NULL DEFAULT '',
            created_at       TEXT NOT NULL,
            PRIMARY KEY (id, owner)
        )
        """,
        "CREATE INDEX idx_documents_owner_created ON documents(owner, created_at)",
        "CREATE INDEX idx_documents_status ON documents(status)",
    )


def m002_keyword_index(conn: sqlite3.Connection) -> None:
    """The keyword index lives beside the registry so one transaction changes both.

    ``keyword_chunks`` holds one row per chunk: its scope (owner), document and the
    jieba/lowercased tokens joined by spaces; ``keyword_fts`` is an FTS5 index over
    those tokens with ``keyword_chunks`` as its external content (tokens stored once).
    ``pending_deletes`` records a document removed from registry + keywords whose
    Chroma chunks may not be gone yet (a crash in between): start-up finishes the job
    without scanning Chroma.
    """
    _run(
        conn,
        """
        CREATE TABLE keyword_chunks (
            rowid        INTEGER PRIMARY KEY,
            chunk_id     TEXT NOT NULL,
            document_id  TEXT NOT NULL,
            owner        TEXT NOT NULL DEFAULT '',
            tokens       TEXT NOT NULL,
            UNIQUE (owner, chunk_id)
        )
        """,
        "CREATE INDEX idx_keyword_chunks_document ON keyword_chunks(owner, document_id)",
        # unicode61 splits only on what we already split on (spaces); no diacritics folding.
        "CREATE VIRTUAL TABLE keyword_fts USING fts5("
        "tokens, content='keyword_chunks', content_rowid='rowid', tokenize='unicode61 remove_diacritics 0')",
        """
        CREATE TABLE pending_deletes (
            document_id  TEXT NOT NULL,
            owner        TEXT NOT NULL DEFAULT '',
            PRIMARY KEY (document_id, owner)
        )
        """,
    )


def m003_chunk_positions(conn: sqlite3.Connection) -> None:
    """Where each chunk sits on its page (rag/positions.py): offsets and rectangles.

    Keyed by chunk id (which starts with the document's content hash), so one row
    serves every owner of the same file. Data dirs from before this table get their
    rows re-derived from the stored PDFs on start (services.py → PageViewer).
    """
    _run(
        conn,
        """
        CREATE TABLE chunk_positions (
            chunk_id     TEXT PRIMARY KEY,
            document_id  TEXT NOT NULL,
            page         INTEGER NOT NULL,
            char_start   INTEGER NOT NULL,
            char_end     INTEGER NOT NULL,
            rects        TEXT NOT NULL DEFAULT '[]',
            source       TEXT NOT NULL DEFAULT 'text'
        )
        """,
        "CREATE INDEX idx_chunk_positions_document ON chunk_positions(document_id)",
        # Documents whose positions were derived (even if no chunk could be placed),
        # so a start-up does not redo the work for a PDF whose words never match.
        """
        CREATE TABLE positioned_documents (
            document_id  TEXT PRIMARY KEY,
            derived_at   TEXT NOT NULL
        )
        """,
    )


def m004_message_calculations(conn: sqlite3.Connection) -> None:
    """The calculations an answer made (rag/calculator.py): expression, result, operands and
    the passages they come from, as JSON; '[]' for every message from before."""
    _run(conn, "ALTER TABLE messages ADD COLUMN calculations TEXT NOT NULL DEFAULT '[]'")


def m005_chunk_sections(conn: sqlite3.Connection) -> None:
    """Each keyword row keeps the statement or heading its chunk sits under (rag/page_roles.py),
    so a search can be limited to a section; '' for chunks indexed before (re-index to fill)."""
    _run(conn, "ALTER TABLE keyword_chunks ADD COLUMN section TEXT NOT NULL DEFAULT ''")


MIGRATIONS: list[Migration] = [m001_initial, m002_keyword_index, m003_chunk_positions, m004_message_calculations,
                               m005_chunk_sections]


def applied_migrations(conn: sqlite3.Connection) -> list[str]:
    """Names of the migrations recorded in this file, in the order they were applied."""
    rows = conn.execute("SELECT name FROM _migrations ORDER BY rowid").fetchall()
    return [row[0] for row in rows]


def migrate(conn: sqlite3.Connection, migrations: list[Migration] | None = None) -> list[str]:
    """Apply the migrations not yet recorded; return the names applied now (often none).

    Must run inside a transaction (``Database.transaction()``) so that each step and
    its record commit together.
    """
    conn.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = set(applied_migrations(conn))
    applied: list[str] = []
    for migration in MIGRATIONS if migrations is None else migrations:
        name = migration.__name__
        if name in done:
            continue
        migration(conn)
        conn.execute(
            "INSERT INTO _migrations (name, applied_at) VALUES (?, ?)",
            (name, datetime.now(timezone.utc).isoformat(timespec="microseconds")),
        )
        applied.append(name)
    return applied
