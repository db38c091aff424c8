"""Fixtures for the reliability tests: the bundled embedder (once), knowledge bases on
fresh data dirs, and a helper to upload files to a running server."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import pytest

from rag import ocr
from rag.embeddings import make_embedder
from rag.knowledge_base import KnowledgeBase
from settings import Settings
from storage.db import Database
from storage.documents import DocumentRegistry


@pytest.fixture(scope="session")
def embedder():
    """The bundled all-MiniLM-L6-v2, loaded once for the whole session."""
    return make_embedder(Settings(embedding_model="auto", device="cpu"))


@pytest.fixture
def make_kb(tmp_path: Path, embedder) -> Callable[..., KnowledgeBase]:
    """Build a KnowledgeBase on ``data_dir`` (default: this test's tmp dir); call again to 'restart'."""
    databases: list[Database] = []

    def build(data_dir: Path | None = None, **overrides) -> KnowledgeBase:
        settings = Settings(data_dir=data_dir or tmp_path / "data", **overrides)
        db = Database(settings.db_path)
        databases.append(db)
        return KnowledgeBase(settings, DocumentRegistry(db), embedder)

    yield build
    for db in databases:
        db.close()


@pytest.fixture(scope="session")
def ocr_on() -> bool:
    """Tesseract is part of the test machine (scripts/system_deps.sh): a missing one fails."""
    assert ocr.ocr_available(), ("tesseract is not installed: run `make system-deps` "
                                 "(apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim)")
    return True
