"""One SQLite file shared by every thread of the app, safe against crashes and lock errors.

Why this shape:

* **WAL journal**: readers never block the writer and the writer never blocks readers,
  and a process killed mid-write (SIGKILL) leaves the file consistent: an uncommitted
  transaction simply never reached the WAL's commit frame and is ignored on reopen.
  ``synchronous=NORMAL`` is enough for that (a committed transaction is in the WAL
  before ``COMMIT`` returns; only a power cut could lose the last few).
* **One in-process write lock**: SQLite allows one writer at a time. Instead of letting
  16 threads race for SQLite's lock (and hit "database is locked" when a deferred
  reader tries to upgrade to a writer), every write goes through ``transaction()``,
  which holds a ``threading.Lock`` and starts with ``BEGIN IMMEDIATE``. Writers queue
  in Python; only another *process* can make SQLite wait, and ``busy_timeout`` covers that.
* **A small pool of connections** rather than one shared connection: reads run in
  parallel with a write (WAL snapshots), and no connection is tied to a thread that
  may die (FastAPI and Gradio run handlers on pooled worker threads).
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from errors import InternalError

logger = logging.getLogger(__name__)

MMAP_BYTES = 256 * 1024 * 1024
BUSY_TIMEOUT_MS = 30_000
MAX_IDLE_CONNECTIONS = 8


class DatabaseClosed(InternalError, RuntimeError):
    """The Database was closed; the caller holds a stale reference."""


class Database:
    """One SQLite file: WAL, foreign keys, busy_timeout, a write lock; safe across threads."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._pool_lock = threading.Lock()
        self._idle: list[sqlite3.Connection] = []
        self._all: set[sqlite3.Connection] = set()
        self._local = threading.local()  # .conn while this thread is inside transaction()
        self._closed = False
        # Imported here, not at module top, so migrations may import Database types freely.
        from storage.migrations import migrate

        with self.transaction() as conn:
            applied = migrate(conn)
        if applied:
            logger.info("Applied migrations %s to %s", ", ".join(applied), self.path)

    # --- connections ----------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so the sqlite3 module
        # never opens a hidden transaction. check_same_thread=False: a pooled
        # connection moves between threads, but only ever used by one at a time.
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        # Keyword queries read thousands of scattered rows of a large library: read them
        # through the OS page cache (mmap) instead of copying page by page into SQLite's own.
        conn.execute(f"PRAGMA mmap_size = {MMAP_BYTES}")
        return conn

    def _acquire(self) -> sqlite3.Connection:
        with self._pool_lock:
            if self._closed:
                raise DatabaseClosed(f"database {self.path} is closed")
            if self._idle:
                return self._idle.pop()
        conn = self._connect()
        with self._pool_lock:
            self._all.add(conn)
        return conn

    def _release(self, conn: sqlite3.Connection) -> None:
        with self._pool_lock:
            if not self._closed and len(self._idle) < MAX_IDLE_CONNECTIONS:
                self._idle.append(conn)
                return
            self._all.discard(conn)
        conn.close()

    # --- public API -----------------------------------------------------------------
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a write atomically: commit on success, roll back on any exception.

        Writes are serialized by a process-wide lock and ``BEGIN IMMEDIATE``. A nested
        call on the same thread joins the outer transaction (one commit at the end).
        """
        outer = getattr(self._local, "conn", None)
        if outer is not None:
            yield outer
            return
        with self._write_lock:
            conn = self._acquire()
            self._local.conn = conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    yield conn
                    conn.commit()
                except BaseException:
                    if conn.in_transaction:
                        conn.rollback()
                    raise
            finally:
                self._local.conn = None
                self._release(conn)

    def query(self, sql: str, params: Sequence | Mapping = ()) -> list[sqlite3.Row]:
        """Read rows; inside a transaction on this thread it sees that transaction's writes."""
        current = getattr(self._local, "conn", None)
        if current is not None:
            return current.execute(sql, params).fetchall()
        conn = self._acquire()
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            self._release(conn)

    def close(self) -> None:
        """Close every idle connection; safe to call twice. Later calls raise DatabaseClosed.

        A connection another thread is reading with (a background task that outlived its
        services) is closed by that thread when it gives it back: closing it under a running
        statement is a use-after-free inside SQLite (a segfault seen in the test suite).
        """
        with self._write_lock, self._pool_lock:
            if self._closed:
                return
            self._closed = True
            conns, self._idle = list(self._idle), []
            self._all.difference_update(conns)
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover - closing never matters more than the rest
                logger.warning("Could not close a connection to %s", self.path, exc_info=True)

    def __enter__(self) -> Database:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Database({str(self.path)!r})"
