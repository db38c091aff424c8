"""Migrations: each applied once, recorded, idempotent across restarts."""

from __future__ import annotations

import sqlite3

import pytest

from storage.db import Database
from storage.migrations import MIGRATIONS, applied_migrations, migrate


def _tables(db: Database) -> set[str]:
    return {row["name"] for row in db.query("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_new_file_gets_every_migration_recorded(db):
    with db.transaction() as conn:
        assert applied_migrations(conn) == [m.__name__ for m in MIGRATIONS]
    assert {"users", "conversations", "messages", "documents", "_migrations"} <= _tables(db)


def test_reopening_applies_nothing_again(db_path):
    Database(db_path).close()
    db = Database(db_path)
    try:
        with db.transaction() as conn:
            assert migrate(conn) == []
            assert applied_migrations(conn) == [m.__name__ for m in MIGRATIONS]
    finally:
        db.close()


def test_each_migration_runs_once(db):
    calls = []

    def m900_add_notes(conn: sqlite3.Connection) -> None:
        calls.append(1)
        conn.execute("ALTER TABLE conversations ADD COLUMN notes TEXT")

    steps = [*MIGRATIONS, m900_add_notes]
    with db.transaction() as conn:
        assert migrate(conn, steps) == ["m900_add_notes"]
    with db.transaction() as conn:
        assert migrate(conn, steps) == []

    assert calls == [1]
    assert "notes" in {row["name"] for row in db.query("PRAGMA table_info(conversations)")}


def test_a_failing_migration_leaves_the_schema_unchanged(db):
    def m901_half_done(conn: sqlite3.Connection) -> None:
        conn.execute("CREATE TABLE half (x)")
        raise RuntimeError("crash in the middle")

    with pytest.raises(RuntimeError, match="crash in the middle"):
        with db.transaction() as conn:
            migrate(conn, [*MIGRATIONS, m901_half_done])

    assert "half" not in _tables(db)
    with db.transaction() as conn:
        assert "m901_half_done" not in applied_migrations(conn)
