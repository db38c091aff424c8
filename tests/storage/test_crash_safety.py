"""A real process writing the database is killed with SIGKILL; the file must stay whole.

The writer runs as a separate Python process (not a thread) so the kill is a real
crash: no finally blocks, no atexit, a WAL with frames of an unfinished transaction.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from storage.db import Database
from storage.history import HistoryManager

REPO_ROOT = Path(__file__).resolve().parents[2]

WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    from storage.db import Database
    from storage.history import HistoryManager

    path, user, count, mode = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
    db = Database(path)
    history = HistoryManager(db)
    conversation = history.start_conversation(user)
    print(conversation.id, flush=True)
    n = 0
    while mode == "forever" or n < count:
        history.add_message(conversation.id, "user", f"m{n} " + "x" * 20000)
        print(f"committed {n}", flush=True)
        n += 1
    if mode == "hang-in-transaction":
        with db.transaction() as conn:
            conn.execute("UPDATE conversations SET title = 'uncommitted'")
            conn.execute("DELETE FROM messages")
            print("in transaction", flush=True)
            time.sleep(600)
    db.close()
    """
)


def _start_writer(db_path: Path, user: str, count: int, mode: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.Popen(
        [sys.executable, "-c", WRITER, str(db_path), user, str(count), mode],
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _read_until(process: subprocess.Popen, done) -> list[str]:
    lines = []
    for line in process.stdout:
        lines.append(line.strip())
        if done(lines):
            return lines
    raise AssertionError(f"writer ended early: {process.wait()} {process.stderr.read()}")


def _kill(process: subprocess.Popen) -> list[str]:
    """SIGKILL the writer; return the lines it printed that were not read yet."""
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    rest = process.stdout.read().splitlines()
    process.stdout.close()
    process.stderr.close()
    return rest


def _contents(history: HistoryManager, user: str, conversation_id: str) -> list[str]:
    return [m.content.split(" ")[0] for m in history.get_messages(user, conversation_id)]


def _integrity(db: Database) -> str:
    return db.query("PRAGMA integrity_check")[0][0]


def test_kill_inside_a_transaction_keeps_committed_data_and_drops_the_rest(db_path):
    writer = _start_writer(db_path, "alice", 10, "hang-in-transaction")
    lines = _read_until(writer, lambda lines: lines[-1] == "in transaction")
    _kill(writer)

    with Database(db_path) as db:
        history = HistoryManager(db)
        assert _integrity(db) == "ok"
        conversation = history.get_conversation("alice", lines[0])
        assert conversation.title != "uncommitted"
        assert _contents(history, "alice", conversation.id) == [f"m{n}" for n in range(10)]


def test_kill_during_a_stream_of_writes_leaves_a_consistent_prefix(db_path):
    writer = _start_writer(db_path, "alice", 0, "forever")
    lines = _read_until(writer, lambda lines: len(lines) > 40)
    lines += _kill(writer)
    reported = len(lines) - 1  # each line after the conversation id: one commit done

    with Database(db_path) as db:
        history = HistoryManager(db)
        assert _integrity(db) == "ok"
        stored = _contents(history, "alice", lines[0])
        # every reported commit is there; at most one more committed but was not reported
        assert reported <= len(stored) <= reported + 1
        assert stored == [f"m{n}" for n in range(len(stored))]
        assert db.query("PRAGMA foreign_key_check") == []


def test_database_is_writable_after_a_crash(db_path):
    writer = _start_writer(db_path, "alice", 3, "hang-in-transaction")
    lines = _read_until(writer, lambda lines: lines[-1] == "in transaction")
    _kill(writer)

    with Database(db_path) as db:
        history = HistoryManager(db)
        history.add_message(lines[0], "assistant", "after the crash")
        assert _contents(history, "alice", lines[0])[-1] == "after"


@pytest.mark.parametrize("writers", [3])
def test_several_processes_write_one_file_without_lock_errors(db_path, writers):
    Database(db_path).close()  # migrate first, so the writers only race on data
    processes = [_start_writer(db_path, f"user{n}", 60, "count") for n in range(writers)]
    results = [(p.wait(timeout=120), p.stdout.read(), p.stderr.read()) for p in processes]
    for p in processes:
        p.stdout.close()
        p.stderr.close()

    for returncode, _, stderr in results:
        assert returncode == 0, stderr
    with Database(db_path) as db:
        history = HistoryManager(db)
        for n, (_, stdout, _) in enumerate(results):
            conversation_id = stdout.splitlines()[0]
            assert _contents(history, f"user{n}", conversation_id) == [f"m{i}" for i in range(60)]
