"""Fixtures for the HTTP API tests: the app in-process, clients of the real server, small real PDFs.

Two ways to reach the API, one per kind of test:

* **In-process** (``client``, ``start_app``): the real FastAPI app (and, with ``ui=True``,
  the Gradio UI mounted on it as ``app.py`` does) over real SQLite, Chroma and the bundled
  embedder on a tmp dir, with the fake chat model of tests/fakes.py, driven by
  Starlette's ``TestClient``. For what a request turns into: mapping, validation, status
  codes, JSON shapes, access rules. No process, no model load: milliseconds a request.
* **The real server** (``server``/``http``): the session's one ``python app.py`` with the
  bundled models, for what only a real model, real streaming over a socket or a real
  process can show. One ``test_*_live.py`` file per surface uses it; answers are kept
  short (max_tokens 8-32) so they stay fast on two CPU cores.
"""

from __future__ import annotations

import json
import uuid
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.fakes import FakeChatBackend
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
    """The Hanfu PDF, indexed once for the session on the real server; its upload entry."""
    return upload_pdf(http, hanfu_pdf)


# --- seed 002 ----------------------------------------------------------------------
# The request example of seed 002's README, with a short answer.
README_EXAMPLE = {
    "messages": [{"question": "你好", "answer": "你好"}, {"question": "1+1=?", "answer": ""}],
    "top_p": 0.9,
    "top_k": 10,
    "response_length": 16,
    "temperature": 0.8,
}
ENVELOPE_KEYS = {"errCode", "errMessage", "exceptionMsg", "flag", "resData"}


def subscribe(client: httpx.Client, body: object) -> httpx.Response:
    """POST /sse/subscribe: a dict as JSON, a string as a raw (maybe broken) JSON body."""
    if isinstance(body, str):
        return client.post("/sse/subscribe", content=body, headers={"Content-Type": "application/json"})
    return client.post("/sse/subscribe", json=body)


# --- in-process ------------------------------------------------------------------------
# TestClient's Host: loopback with the default port, as a local browser sends it.
LOOPBACK = "http://127.0.0.1:7860"


def fake_model() -> FakeChatBackend:
    """A 16k-token model: seed 002's 5000-token default answer fits beside any prompt here."""
    return FakeChatBackend(context_window=16384)


@contextmanager
def in_process(services, *, ui: bool = False) -> Iterator[TestClient]:
    """A TestClient of the app over ``services``: the API alone, or with the UI mounted
    (``app.create_server_app``, for "/", "/login" and Gradio's own routes)."""
    if ui:
        from app import create_server_app as build
    else:
        from api.server import create_app as build
    # Like the real server, a 500 is an answer to assert on, not an exception in the test.
    with TestClient(build(services), base_url=LOOPBACK, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def fake() -> FakeChatBackend:
    """The chat model of ``services``: canned answers, every request recorded."""
    return fake_model()


@pytest.fixture
def services(make_services, fake):
    """Real storage, Chroma and embedder on this test's tmp dir around the fake model."""
    return make_services(llm=fake)


@pytest.fixture
def client(services) -> Iterator[TestClient]:
    """The API in-process over ``services`` (default settings, default user)."""
    with in_process(services) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def start_app(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[Callable[..., TestClient]]:
    """Factory, the in-process twin of ``start_server``: ``start_app(api_key="k")`` → a
    TestClient of an app built with those settings on a fresh data dir, kept for the module.

    ``ui=True`` mounts the Gradio UI too; ``llm`` replaces the fake chat model. The
    services are on ``client.app.state.services`` (settings, data dir, the model)."""
    with ExitStack() as stack:
        def _start(*, ui: bool = False, llm=None, **overrides) -> TestClient:
            built = _build_services(stack, tmp_path_factory, embedder, llm, overrides)
            return stack.enter_context(in_process(built, ui=ui))

        yield _start


@pytest.fixture(scope="module")
def serve_app(tmp_path_factory: pytest.TempPathFactory, embedder) -> Iterator[Callable[..., str]]:
    """Factory: ``serve_app(mcp=True)`` → the base URL of the app with the UI mounted, as
    ``app.py`` builds it (fake chat model, real storage and embedder), served by uvicorn on
    a real socket of 127.0.0.1 in a thread. For clients that need a socket (MCP sessions)
    where no real model or process is under test."""
    from app import create_server_app
    from tests.llm.openai_server import serve

    with ExitStack() as stack:
        def _serve(*, llm=None, **overrides) -> str:
            built = _build_services(stack, tmp_path_factory, embedder, llm, overrides)
            return stack.enter_context(serve(create_server_app(built)))

        yield _serve


def _build_services(stack: ExitStack, tmp_path_factory: pytest.TempPathFactory, embedder, llm, overrides: dict):
    """Services with these settings (on a fresh data dir unless one is given), closed when ``stack`` closes."""
    from services import build_services
    from settings import Settings

    settings = Settings(**{"data_dir": tmp_path_factory.mktemp("app") / "data", **overrides})
    built = build_services(settings, llm=llm or fake_model(), embedder=embedder)
    stack.callback(built.close)
    return built


@pytest.fixture(scope="module")
def app_client(start_app) -> TestClient:
    """One in-process app with default settings, shared by a module's tests (like ``http``)."""
    return start_app()


def upload_pdf(client: httpx.Client, path: Path, **kwargs) -> dict:
    """Upload one PDF through /api/documents; its entry, indexed (or already there)."""
    response = client.post("/api/documents", files=[("files", (path.name, path.read_bytes(), "application/pdf"))],
                           **kwargs)
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
