"""Bad input is a 4xx with {"error": {"message", "type"}} — never a 500."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import assert_error_shape


def post_raw(http: httpx.Client, path: str, body: str) -> httpx.Response:
    return http.post(path, content=body, headers={"Content-Type": "application/json"})


@pytest.mark.parametrize("path", ["/api/chat", "/api/search", "/v1/chat/completions"])
def test_malformed_json_is_400(http: httpx.Client, path: str) -> None:
    error = assert_error_shape(post_raw(http, path, '{"query": "unfinished'), 400)
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
def test_wrong_types_and_ranges_are_422(http: httpx.Client, path: str, body: dict) -> None:
    error = assert_error_shape(http.post(path, json=body), 422)
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
def test_empty_query_is_rejected(http: httpx.Client, path: str, body: dict) -> None:
    assert_error_shape(http.post(path, json=body), 422)


def test_last_openai_message_must_be_from_the_user(http: httpx.Client) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    assert_error_shape(http.post("/v1/chat/completions", json=body), 400)


def test_unknown_conversation_is_404(http: httpx.Client) -> None:
    error = assert_error_shape(http.get("/api/conversations/does-not-exist/messages"), 404)
    assert error["type"] == "not_found_error"


@pytest.mark.parametrize("user", [b"x" * 65, b"control\x85char"])
def test_invalid_user_id_header_is_400(http: httpx.Client, user: bytes) -> None:
    assert_error_shape(http.get("/api/conversations", headers={"X-User-Id": user}), 400)


def test_healthz_reports_the_models(http: httpx.Client) -> None:
    body = http.get("/healthz").json()
    assert body["status"] == "ok" and body["model"] and body["embedding_model"]
    # the test servers run DOCCHAT_MODEL=smollm2: a GGUF, so llama.cpp answers
    assert (body["model"], body["engine"], body["device"]) == ("SmolLM2-135M-Instruct (GGUF Q4_1)", "llama.cpp", "cpu")


def test_openapi_schema_and_docs_are_served(http: httpx.Client) -> None:
    paths = http.get("/openapi.json").json()["paths"]
    for path in ["/api/documents", "/api/search", "/api/chat", "/api/conversations", "/sse/subscribe",
                 "/v1/models", "/v1/chat/completions", "/healthz"]:
        assert path in paths
    assert http.get("/docs").status_code == 200
