"""Database: pragmas, atomic transactions, and many threads writing without lock errors."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from storage.db import Database, DatabaseClosed
from storage.history import HistoryManager

THREADS = 16
MESSAGES_PER_THREAD = 20


def test_creates_parent_folders_and_the_file(tmp_path):
    path = tmp_path / "a" / "b" / "docchat.sqlite3"
    with Database(path) as db:
        assert path.exists()
        assert db.query("PRAGMA journal_mode")[0][0] == "wal"


def test_every_connection_enforces_foreign_keys(db):
    with pytest.raises(Exception, match="FOREIGN KEY"):
        with db.transaction() as conn:
            conn.execute(
                "INSERT INTO conversations (id, user_id, title, created_at, updated_at) "
                "VALUES ('c', 'no-such-user', 't', 'x', 'x')"
            )


def test_transaction_commits_on_success(db):
    with db.transaction() as conn:
        conn.execute("INSERT INTO users (id, created_at) VALUES ('alice', 'now')")

    assert [row["id"] for row in db.query("SELECT id FROM users")] == ["alice"]


def test_transaction_rolls_back_everything_on_error(db):
    with pytest.raises(RuntimeError):
        with db.transaction() as conn:
            conn.execute("INSERT INTO users (id, created_at) VALUES ('alice', 'now')")
            conn.execute("INSERT INTO users (id, created_at) VALUES ('bob', 'now')")
            raise RuntimeError("boom")

    assert db.query("SELECT id FROM users") == []


def test_nested_transaction_joins_the_outer_one(db):
    with pytest.raises(RuntimeError):
        with db.transaction() as outer:
            outer.execute("INSERT INTO users (id, created_at) VALUES ('alice', 'now')")
            with db.transaction() as inner:
                inner.execute("INSERT INTO users (id, created_at) VALUES ('bob', 'now')")
            assert len(db.query("SELECT id FROM users")) == 2  # visible inside
            raise RuntimeError("undo both")

    assert db.query("SELECT id FROM users") == []


def test_query_takes_named_parameters(db):
    with db.transaction() as conn:
        conn.execute("INSERT INTO users (id, created_at) VALUES ('alice', 'now')")

    rows = db.query("SELECT id FROM users WHERE id = :id", {"id": "alice"})
    assert rows[0]["id"] == "alice"


def test_closed_database_refuses_work(db_path):
    db = Database(db_path)
    db.close()
    db.close()  # twice is fine

    with pytest.raises(DatabaseClosed):
        db.query("SELECT 1")


def test_sixteen_threads_write_without_lock_errors_and_keep_order(db):
    history = HistoryManager(db)
    conversations = [history.start_conversation(f"user{n % 4}") for n in range(THREADS)]
    start = threading.Barrier(THREADS)

    def chat(n: int) -> None:
        start.wait()
        conversation = conversations[n]
        for m in range(MESSAGES_PER_THREAD):
            role = "user" if m % 2 == 0 else "assistant"
            history.add_message(conversation.id, role, f"t{n}-m{m}", sources=[{"page": m}])
            history.get_messages(conversation.user_id, conversation.id, limit=4)  # reads interleave

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(chat, n) for n in range(THREADS)]:
            future.result()  # re-raises any "database is locked"

    for n, conversation in enumerate(conversations):
        stored = history.get_messages(conversation.user_id, conversation.id)
        assert [m.content for m in stored] == [f"t{n}-m{m}" for m in range(MESSAGES_PER_THREAD)]
    assert db.query("SELECT COUNT(*) FROM messages")[0][0] == THREADS * MESSAGES_PER_THREAD


def test_threads_sharing_one_conversation_keep_each_threads_order(db):
    history = HistoryManager(db)
    conversation = history.start_conversation("alice")
    start = threading.Barrier(THREADS)

    def chat(n: int) -> None:
        start.wait()
        for m in range(MESSAGES_PER_THREAD):
            history.add_message(conversation.id, "user", f"{n}:{m}")

    with ThreadPoolExecutor(THREADS) as pool:
        for future in [pool.submit(chat, n) for n in range(THREADS)]:
            future.result()

    stored = [m.content for m in history.get_messages("alice", conversation.id)]
    assert len(stored) == THREADS * MESSAGES_PER_THREAD
    for n in range(THREADS):
        assert [s for s in stored if s.startswith(f"{n}:")] == [f"{n}:{m}" for m in range(MESSAGES_PER_THREAD)]


def test_simultaneous_first_turns_of_a_user_share_one_conversation(db):
    history = HistoryManager(db)
    start = threading.Barrier(8)

    def first_turn(_: int) -> str:
        start.wait()
        return history.resolve_conversation("alice").id

    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(first_turn, range(8)))

    assert len(ids) == 1
    assert len(history.list_conversations("alice")) == 1
