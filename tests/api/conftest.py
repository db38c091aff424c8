"""Fixtures for the HTTP API tests: clients of the real server and small real PDFs.

All API tests talk to the session's real ``python app.py`` (``server`` from
tests/conftest.py) over HTTP on 127.0.0.1. Answers are kept short (max_tokens 8-32)
so the whole folder stays fast on two CPU cores.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from tests.pdfs import make_pdf

SHORT = 12  # answer tokens for tests that only need "some text"

HANFU_PAGES = [
    "Hanfu is the traditional clothing of the Han Chinese. The zhiju robe wraps the body "
    "in a straight line and was worn during the Han dynasty.",
    "The mamianqun, or horse-face skirt, has flat front and back panels with pleats at the "
    "sides. It became popular during the Ming dynasty and is worn again today.",
]


@pytest.fixture(scope="session")
def http(server) -> Iterator[httpx.Client]:
    """A plain HTTP client of the shared server (default user)."""
    with httpx.Client(base_url=server.base_url, timeout=300) as client:
        yield client


@pytest.fixture
def user_id() -> str:
    """A fresh user per test, so conversations of different tests never mix."""
    return f"tester-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="session")
def hanfu_pdf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_pdf(tmp_path_factory.mktemp("pdfs") / "hanfu.pdf", HANFU_PAGES)


@pytest.fixture(scope="session")
def uploaded_hanfu(http: httpx.Client, hanfu_pdf: Path) -> dict:
    """The Hanfu PDF, indexed once for the session; its upload entry."""
    response = http.post("/api/documents", files=[("files", ("hanfu.pdf", hanfu_pdf.read_bytes(), "application/pdf"))])
    response.raise_for_status()
    entry = response.json()["documents"][0]
    assert entry["status"] in ("ready", "duplicate"), entry
    return entry


# Every API route that needs an identity, with a small valid body (auth and identity tests).
PROTECTED_ROUTES = [
    ("GET", "/api/documents", None),
    ("POST", "/api/search", {"query": "tea"}),
    ("POST", "/api/chat", {"query": "hi", "max_tokens": 4}),
    ("GET", "/api/conversations", None),
    ("DELETE", "/api/documents/x", None),
    ("POST", "/sse/subscribe", {"messages": [{"question": "hi"}], "response_length": 4}),
    ("GET", "/v1/models", None),
    ("POST", "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}),
]


def sse_data(response: httpx.Response) -> list[str]:
    """The ``data:`` payloads of a finished text/event-stream response, in order."""
    return [line[len("data:"):].strip() for line in response.text.splitlines() if line.startswith("data:")]


def sse_json(response: httpx.Response) -> list[dict]:
    """The JSON events of a stream, without the final ``[DONE]``."""
    return [json.loads(item) for item in sse_data(response) if item != "[DONE]"]


def assert_error_shape(response: httpx.Response, status: int) -> dict:
    """DESIGN.md §5: a 4xx with ``{"error": {"message": str, "type": str}}``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    assert isinstance(body["error"]["type"], str) and body["error"]["type"]
    return body["error"]
