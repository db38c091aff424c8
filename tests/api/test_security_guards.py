"""Sharing safely and browser-facing protection (issue 10, items 2 and 3).

Refused starts run the real ``python app.py`` (it must exit before loading any model).
The Host, Origin, CORS and CSP guards are checked in-process on the app with the UI
mounted, as ``app.py`` builds it (``start_app(ui=True)`` of tests/api/conftest.py).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import LOOPBACK, assert_error_shape
from tests.conftest import OFFLINE_ENV, REPO, free_port


def _start_refused(*args: str, tmp_path) -> subprocess.CompletedProcess:
    """``python app.py ARGS`` expected to exit at once (no model is loaded before the check)."""
    cmd = [sys.executable, str(REPO / "app.py"), "--port", str(free_port()), "--data-dir", str(tmp_path / "d"), *args]
    return subprocess.run(cmd, cwd=REPO, env={**OFFLINE_ENV, "PATH": "/usr/bin:/bin"}, capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize("args", [("--share",), ("--host", "0.0.0.0")], ids=["share", "network-bind"])
def test_exposing_an_open_server_is_refused_with_the_flags_to_add(args, tmp_path) -> None:
    done = _start_refused(*args, tmp_path=tmp_path)
    assert done.returncode != 0
    for flag in ("--auth", "--api-keys-file", "--allow-anonymous"):
        assert flag in done.stderr, done.stderr
    assert not (tmp_path / "d" / "docchat.sqlite3").exists()  # refused before anything was created


def test_share_with_only_a_gateway_key_is_refused(tmp_path) -> None:
    """A shared key means "a gateway in front holds the users": a share link has none."""
    done = _start_refused("--share", "--api-key", "k", tmp_path=tmp_path)
    assert done.returncode != 0 and "--share" in done.stderr


@pytest.fixture(scope="module")
def guarded_app(start_app) -> TestClient:
    """The app and UI with default settings (loopback names only, no CORS)."""
    return start_app(ui=True)


@pytest.fixture(scope="module")
def cors_app(start_app) -> TestClient:
    """The app and UI as ``--cors-origins https://app.example --allowed-hosts docs.example`` build it."""
    return start_app(ui=True, cors_origins=["https://app.example"], allowed_hosts=["docs.example"])


def test_a_foreign_host_header_is_refused(guarded_app: TestClient) -> None:
    """DNS rebinding: evil.example pointed at 127.0.0.1 still sends Host: evil.example."""
    assert_error_shape(guarded_app.get("/api/conversations", headers={"Host": "evil.example"}), 421)
    page = guarded_app.get("/", headers={"Host": "evil.example:7860"})
    assert page.status_code == 421 and "docchat" not in page.text.lower()
    assert guarded_app.get("/api/conversations", headers={"Host": "localhost:7860"}).status_code == 200


def test_allowed_hosts_extend_the_list(cors_app) -> None:
    assert cors_app.get("/api/documents", headers={"Host": "docs.example"}).status_code == 200
    assert cors_app.get("/api/documents", headers={"Host": "other.example"}).status_code == 421


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("POST", "/api/chat", {"json": {"query": "hi", "max_tokens": 2}}),
        ("POST", "/api/documents", {"files": [("files", ("a.pdf", b"%PDF-1.4 x", "application/pdf"))]}),
        ("DELETE", "/api/conversations/x", {}),
        ("POST", "/v1/chat/completions", {"json": {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}}),
        ("POST", "/gradio_api/queue/join", {"json": {}}),
    ],
)
def test_cross_site_state_changes_are_refused(guarded_app: TestClient, method, path, kwargs) -> None:
    response = guarded_app.request(method, path, headers={"Origin": "https://evil.example"}, **kwargs)
    assert response.status_code == 403, response.text
    assert "Origin" in response.json()["error"]["message"]


def test_same_origin_and_reads_pass(guarded_app: TestClient) -> None:
    origin = LOOPBACK  # the Host the client sends, as a page served by docchat itself would
    assert guarded_app.post("/api/search", json={"query": "x"}, headers={"Origin": origin}).status_code == 200
    assert guarded_app.get("/api/documents", headers={"Origin": "https://evil.example"}).status_code == 200


def test_no_cors_unless_configured(guarded_app: TestClient, cors_app) -> None:
    preflight = {"Origin": "https://app.example", "Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    plain = guarded_app.options("/api/chat", headers=preflight)
    assert "access-control-allow-origin" not in plain.headers
    allowed = cors_app.options("/api/chat", headers=preflight)
    assert allowed.headers.get("access-control-allow-origin") == "https://app.example"
    # the configured origin may also change state; others still may not
    asked = cors_app.post("/api/search", json={"query": "x"}, headers={"Origin": "https://app.example"})
    assert asked.status_code == 200 and asked.headers["access-control-allow-origin"] == "https://app.example"
    assert cors_app.post("/api/search", json={"query": "x"}, headers={"Origin": "https://evil.example"}).status_code == 403


def test_the_ui_page_forbids_remote_images(guarded_app: TestClient) -> None:
    csp = guarded_app.get("/").headers.get("content-security-policy", "")
    assert "img-src 'self'" in csp and "frame-src 'self'" in csp
