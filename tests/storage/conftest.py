"""Fixtures for the storage tests: a real SQLite file in tmp_path and a clock we control."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from storage.db import Database
from storage.documents import DocumentRegistry
from storage.history import HistoryManager


class FakeClock:
    """A clock that only moves when told to, so idle gaps and timestamps are exact."""

    def __init__(self, start: datetime) -> None:
        self.moment = start

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, **delta: float) -> None:
        self.moment += timedelta(**delta)


@pytest.fixture
def db_path(tmp_path):
    return tmp_path / "data" / "docchat.sqlite3"


@pytest.fixture
def db(db_path):
    database = Database(db_path)
    yield database
    database.close()


@pytest.fixture
def clock():
    return FakeClock(datetime(2024, 5, 1, 10, 0, 0, tzinfo=timezone.utc))


@pytest.fixture
def history(db, clock):
    return HistoryManager(db, idle_minutes=30, now=clock)


@pytest.fixture
def registry(db):
    return DocumentRegistry(db)
