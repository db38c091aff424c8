"""Hostile content and the bugs of issue 10 (items 4 and 6), in-process.

* Error bodies carry an error id, never exception text or server paths: a real upstream
  OpenAI-compatible server (HTTP on 127.0.0.1) that fails with a path in its message
  stands in for a model server gone wrong, behind the app built as ``--llm-base-url`` builds it.
* A source merged from two overlapping chunks shows the overlap once.

The answer budget against the real model's window (item 6) is checked on the real server:
test_openai_live.py and test_sse_live.py.
"""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse

from tests.api.conftest import sse_json
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
def broken(start_app):
    """The app over a chat model served by ``failing_upstream`` (what ``--llm-base-url`` builds)."""
    from llm.factory import make_backend
    from settings import Settings

    with serve(failing_upstream()) as upstream:
        yield start_app(llm=make_backend(Settings(llm_base_url=upstream)), llm_base_url=upstream)


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """What the app logs during the test (a real server writes the same lines to its log)."""
    caplog.set_level(logging.INFO)
    return caplog


def _assert_only_an_error_id(text: str, server_log: pytest.LogCaptureFixture) -> str:
    assert SECRET_PATH not in text and "CUDA" not in text, text
    found = re.search(r"error id ([0-9a-f]{12})", text)
    assert found, text
    assert found.group(1) in server_log.text  # the details are in the log, under that id
    return found.group(1)


def test_a_failing_stream_reports_an_error_id_not_the_exception(broken, server_log) -> None:
    response = broken.post("/api/chat", json={"query": "hi", "stream": True, "max_tokens": 8})
    events = sse_json(response)
    errors = [e for e in events if "error" in e]
    assert errors, events
    _assert_only_an_error_id(json.dumps(errors), server_log)


def test_openai_stream_errors_carry_only_an_id(broken, server_log) -> None:
    body = {"messages": [{"role": "user", "content": "hi"}], "stream": True, "max_tokens": 8}
    response = broken.post("/v1/chat/completions", json=body)
    _assert_only_an_error_id(response.text, server_log)


def test_seed002_exception_field_carries_only_an_id(broken, server_log) -> None:
    response = broken.post("/sse/subscribe", json={"messages": [{"question": "hi"}], "response_length": 8})
    _assert_only_an_error_id(response.text, server_log)
    assert any(e.get("flag") is False for e in sse_json(response))


def test_a_failing_model_call_is_an_error_id(broken, server_log) -> None:
    response = broken.post("/api/chat", json={"query": "hi", "max_tokens": 8})
    assert response.status_code >= 500
    _assert_only_an_error_id(response.text, server_log)


# --- item 6: merged sources -------------------------------------------------------------

SENTENCES = [f"Sentence number {i} of the overlap page talks about {word} in the storage cluster."
             for i, word in enumerate(["replicas", "blocks", "writers", "leases", "pipelines", "checksums",
                                       "datanodes", "namenodes", "heartbeats", "snapshots", "quotas",
                                       "balancers", "journals", "fencing", "safemode", "decommission",
                                       "racks", "caching", "erasure", "federation", "observers", "tokens"])]


def test_a_source_merged_from_overlapping_chunks_repeats_nothing(app_client: httpx.Client, tmp_path) -> None:
    pdf = make_pdf(tmp_path / "overlap.pdf", [" ".join(SENTENCES)])
    uploaded = app_client.post("/api/documents", files=[("files", ("overlap.pdf", pdf.read_bytes(), "application/pdf"))])
    entry = uploaded.json()["documents"][0]
    assert entry["status"] in ("ready", "duplicate") and entry["chunks"] >= 2, entry
    query = "Sentence number 0 replicas; sentence number 21 tokens; number 10 quotas in the storage cluster"
    results = app_client.post("/api/search", json={"query": query, "k": 5, "document_ids": [entry["id"]]}).json()["results"]
    merged = [r for r in results if r["document_id"] == entry["id"]]
    assert len(merged) == 1, merged  # one source per page
    text = merged[0]["text"]
    for sentence in SENTENCES:
        assert text.count(sentence) <= 1, f"repeated: {sentence!r}"
