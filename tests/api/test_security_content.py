"""Hostile content and the bugs of issue 10 (items 4 and 6), on the real server.

* Error bodies carry an error id, never exception text or server paths: a real upstream
  OpenAI-compatible server that fails with a path in its message stands in for a model
  server gone wrong.
* The answer budget never pushes the question out of the prompt; a question that
  cannot fit is a clear 400 / seed 002 ``PROMPT_TOO_LONG``.
* A source merged from two overlapping chunks shows the overlap once.
"""

from __future__ import annotations

import json
import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse

from tests.api.conftest import assert_error_shape, sse_json
from tests.llm.openai_server import serve
from tests.pdfs import make_pdf

SECRET_PATH = "/srv/secret/weights-7f3a.bin"


def failing_upstream() -> FastAPI:
    """An OpenAI-compatible server that starts answering, then fails naming a server path."""
    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": "upstream", "object": "model", "created": 0,
                                            "owned_by": "tests", "max_model_len": 2048}]}

    @app.post("/v1/chat/completions")
    async def chat(body: dict) -> object:
        failure = {"error": {"message": f"CUDA error while reading {SECRET_PATH}", "type": "server_error"}}
        if not body.get("stream"):
            return JSONResponse(failure, status_code=500)

        async def events():
            chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "upstream",
                     "choices": [{"index": 0, "delta": {"role": "assistant", "content": "Part"}, "finish_reason": None}]}
            yield f"data: {json.dumps(chunk)}\n\n"
            yield f"data: {json.dumps(failure)}\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")

    return app


@pytest.fixture(scope="module")
def broken_model_server(start_server):
    with serve(failing_upstream()) as upstream:
        yield start_server("--llm-base-url", upstream)


@pytest.fixture
def broken(broken_model_server):
    with httpx.Client(base_url=broken_model_server.base_url, timeout=120) as client:
        yield client


def _assert_only_an_error_id(text: str, server) -> str:
    assert SECRET_PATH not in text and "CUDA" not in text, text
    found = re.search(r"error id ([0-9a-f]{12})", text)
    assert found, text
    assert found.group(1) in server.log()  # the details are in the log, under that id
    return found.group(1)


def test_a_failing_stream_reports_an_error_id_not_the_exception(broken, broken_model_server) -> None:
    response = broken.post("/api/chat", json={"query": "hi", "stream": True, "max_tokens": 8})
    events = sse_json(response)
    errors = [e for e in events if "error" in e]
    assert errors, events
    _assert_only_an_error_id(json.dumps(errors), broken_model_server)


def test_openai_stream_errors_carry_only_an_id(broken, broken_model_server) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 8}
    response = broken.post("/v1/chat/completions", json=body)
    _assert_only_an_error_id(response.text, broken_model_server)


def test_seed002_exception_field_carries_only_an_id(broken, broken_model_server) -> None:
    response = broken.post("/sse/subscribe", json={"messages": [{"question": "hi"}], "response_length": 8})
    _assert_only_an_error_id(response.text, broken_model_server)
    assert any(e.get("flag") is False for e in sse_json(response))


def test_a_failing_model_call_is_an_error_id(broken, broken_model_server) -> None:
    response = broken.post("/api/chat", json={"query": "hi", "max_tokens": 8})
    assert response.status_code >= 500
    _assert_only_an_error_id(response.text, broken_model_server)


# --- item 6: the answer budget ---------------------------------------------------------


def _completion(http: httpx.Client, max_tokens: int) -> dict:
    body = {"messages": [{"role": "user", "content": "What is two plus two? Answer with one number."}],
            "max_tokens": max_tokens, "temperature": 0, "stop": [".", "\n"]}
    response = http.post("/v1/chat/completions", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_huge_answer_budget_never_cuts_the_question(http: httpx.Client) -> None:
    small = _completion(http, 16)
    huge = _completion(http, 9000)  # more than the bundled model's whole window
    assert huge["usage"]["prompt_tokens"] == small["usage"]["prompt_tokens"]
    assert any("lowered" in w for w in huge["warnings"]), huge
    assert "warnings" not in small


def test_a_question_longer_than_the_window_is_a_clear_400(http: httpx.Client) -> None:
    question = "word " * 9000
    response = http.post("/v1/chat/completions",
                         json={"messages": [{"role": "user", "content": question}], "max_tokens": 4})
    error = assert_error_shape(response, 400)
    assert "Shorten the question" in error["message"]
    digits = "0123456789" * 3000  # under /api/chat's 32000 characters, far over 8k tokens
    chat = http.post("/api/chat", json={"query": digits, "max_tokens": 4})
    assert "Shorten the question" in assert_error_shape(chat, 400)["message"]


def test_seed002_question_too_long_is_flag_false(http: httpx.Client) -> None:
    response = http.post("/sse/subscribe", json={"messages": [{"question": "word " * 9000}], "response_length": 4})
    events = sse_json(response)
    assert len(events) == 1, events
    assert events[0]["flag"] is False and events[0]["errCode"] == "PROMPT_TOO_LONG", events[0]


# --- item 6: merged sources -------------------------------------------------------------

SENTENCES = [f"Sentence number {i} of the overlap page talks about {word} in the storage cluster."
             for i, word in enumerate(["replicas", "blocks", "writers", "leases", "pipelines", "checksums",
                                       "datanodes", "namenodes", "heartbeats", "snapshots", "quotas",
                                       "balancers", "journals", "fencing", "safemode", "decommission",
                                       "racks", "caching", "erasure", "federation", "observers", "tokens"])]


def test_a_source_merged_from_overlapping_chunks_repeats_nothing(http: httpx.Client, tmp_path) -> None:
    pdf = make_pdf(tmp_path / "overlap.pdf", [" ".join(SENTENCES)])
    uploaded = http.post("/api/documents", files=[("files", ("overlap.pdf", pdf.read_bytes(), "application/pdf"))])
    entry = uploaded.json()["documents"][0]
    assert entry["status"] in ("ready", "duplicate") and entry["chunks"] >= 2, entry
    query = "Sentence number 0 replicas; sentence number 21 tokens; number 10 quotas in the storage cluster"
    results = http.post("/api/search", json={"query": query, "k": 5, "document_ids": [entry["id"]]}).json()["results"]
    merged = [r for r in results if r["document_id"] == entry["id"]]
    assert len(merged) == 1, merged  # one source per page
    text = merged[0]["text"]
    for sentence in SENTENCES:
        assert text.count(sentence) <= 1, f"repeated: {sentence!r}"
