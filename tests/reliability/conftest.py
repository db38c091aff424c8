"""Fixtures for the reliability tests: tesseract must be there. The bundled embedder and
``make_kb`` (knowledge bases on fresh data dirs) are tests/conftest.py's."""

from __future__ import annotations

import pytest

from rag import ocr


@pytest.fixture(scope="session")
def ocr_on() -> bool:
    """Tesseract is part of the test machine (scripts/system_deps.sh): a missing one fails."""
    assert ocr.ocr_available(), ("tesseract is not installed: run `make system-deps` "
                                 "(apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-chi-sim)")
    return True
