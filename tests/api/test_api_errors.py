"""Bad input is a 4xx with {"error": {"message", "type"}} — never a 500.

In-process (``app_client`` of tests/api/conftest.py): what is checked here is the request's
validation and the error's shape, decided before any model runs. The real server's
/healthz is checked in test_chat_live.py."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import assert_error_shape


def post_raw(client: httpx.Client, path: str, body: str) -> httpx.Response:
    return client.post(path, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["/api/chat", "/api/search", "/v1/chat/completions"])
def test_malformed_json_is_400(app_client: httpx.Client, path: str) -> None:
    error = assert_error_shape(post_raw(app_client, path, '{"query": "unfinished'), 400)
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/chat", {"query": 42}),
        ("/api/chat", {"query": "hi", "stream": "sometimes"}),
        ("/api/chat", {"query": "hi", "history": "all of it"}),
        ("/api/chat", {"query": "hi", "temperature": "hot"}),
        ("/api/chat", {"query": "hi", "prompt_name": "poem"}),
        ("/api/search", {"query": "tea", "k": 0}),
        ("/api/search", {"query": "tea", "document_ids": "one"}),
        ("/v1/chat/completions", {"messages": "hello"}),
        ("/v1/chat/completions", {"messages": [{"role": "wizard", "content": "hi"}]}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "n": 2}),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}], "stop": ["a", "b", "c", "d", "e"]}),
    ],
)
def test_wrong_types_and_ranges_are_422(app_client: httpx.Client, path: str, body: dict) -> None:
    error = assert_error_shape(app_client.post(path, json=body), 422)
    assert error["type"] == "invalid_request_error"


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/chat", {"query": ""}),
        ("/api/chat", {"query": "   "}),
        ("/api/search", {"query": " "}),
        ("/v1/chat/completions", {"messages": []}),
    ],
)
def test_empty_query_is_rejected(app_client: httpx.Client, path: str, body: dict) -> None:
    assert_error_shape(app_client.post(path, json=body), 422)


def test_last_openai_message_must_be_from_the_user(app_client: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    assert_error_shape(app_client.post("/v1/chat/completions", json=body), 400)


def test_unknown_conversation_is_404(app_client: httpx.Client) -> None:
    error = assert_error_shape(app_client.get("/api/conversations/does-not-exist/messages"), 404)
    assert error["type"] == "not_found_error"


@pytest.mark.parametrize("user", [b"x" * 65, b"control\x85char"])
def test_invalid_user_id_header_is_400(app_client: httpx.Client, user: bytes) -> None:
    assert_error_shape(app_client.get("/api/conversations", headers={"X-User-Id": user}), 400)


def test_openapi_schema_and_docs_are_served(app_client: httpx.Client) -> None:
    paths = app_client.get("/openapi.json").json()["paths"]
    for path in ["/api/documents", "/api/search", "/api/chat", "/api/conversations", "/sse/subscribe",
                 "/v1/models", "/v1/chat/completions", "/healthz"]:
        assert path in paths
    assert app_client.get("/docs").status_code == 200
