"""Chat API on the real server (``python app.py``, the bundled models): what only a real
process, a real model and a real socket show. The request mapping, validation and JSON
shapes of /api/chat are checked in-process in test_chat_routes.py.

* /healthz names the model the server really loaded.
* A stream over HTTP: deltas, then sources, then ``[DONE]``; what was streamed is stored.
* A client that leaves mid-stream stops the generation: the model is free for the next request.
  These run on ``held_server`` (tests/conftest.py): the model's answer is held by a gate
  until the client leaves, so it is still being written when the client goes, however fast
  the CPU (a fast one could end a "very long story" first).
"""

from __future__ import annotations

import json
import time
from typing import Iterator

import httpx
import pytest

from tests.api.conftest import SHORT, sse_data, sse_json


def test_healthz_reports_the_models(http: httpx.Client) -> None:
    body = http.get("/healthz").json()
    assert body["status"] == "ok" and body["model"] and body["embedding_model"]
    # the test servers run DOCCHAT_MODEL=smollm2: a GGUF, so llama.cpp answers
    assert (body["model"], body["engine"], body["device"]) == ("SmolLM2-135M-Instruct (GGUF Q4_1)", "llama.cpp", "cpu")


def test_stream_sends_deltas_then_sources_then_done(http: httpx.Client, user_id: str) -> None:
    response = http.post("/api/chat", json={"max_tokens": SHORT, "query": "Say hello.", "stream": True,
                                            "new_conversation": True}, headers={"X-User-Id": user_id})
    assert response.headers["content-type"].startswith("text/event-stream")
    assert sse_data(response)[-1] == "[DONE]"
    events = sse_json(response)
    *deltas, last = events
    assert deltas and all({"text", "message_id", "conversation_id"} <= set(e) for e in deltas)
    assert len({(e["message_id"], e["conversation_id"]) for e in events}) == 1
    assert "sources" in last and "standalone_query" in last
    stored = http.get(f"/api/conversations/{last['conversation_id']}/messages", headers={"X-User-Id": user_id})
    assert stored.json()["messages"][-1]["content"] == "".join(e["text"] for e in events)

LONG_ANSWER = {"query": "Write a very long story about a dragon who learns to cook.", "max_tokens": 2000,
               "use_rag": False, "stream": True, "new_conversation": True}


def read_events_then_leave(base_url: str, user: str, events: int) -> dict:
    """Open a streaming chat, read a few events, close the connection; the first event."""
    first = None
    with httpx.Client(base_url=base_url, timeout=300) as client:
        with client.stream("POST", "/api/chat", json=LONG_ANSWER, headers={"X-User-Id": user}) as response:
            assert response.status_code == 200
            seen = 0
            for line in response.iter_lines():
                if line.startswith("data:"):
                    first = first or json.loads(line[5:])
                    seen += 1
                    if seen == events:
                        break
    assert first is not None
    return first


def stored_answer(http: httpx.Client, user: str, conversation_id: str, wait_s: float = 120) -> dict:
    """The assistant message once the server has stored it (it does so when generation ends)."""
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        messages = http.get(f"/api/conversations/{conversation_id}/messages", headers={"X-User-Id": user}).json()
        answers = [m for m in messages["messages"] if m["role"] == "assistant"]
        if answers:
            return answers[0]
        time.sleep(0.5)
    raise AssertionError("the cancelled answer was never stored")


@pytest.fixture
def held(held_server, held_model) -> Iterator[httpx.Client]:
    """A client of ``held_server`` whose next answer is held until its reader leaves."""
    gate = held_model[1]
    gate.hold_next()
    with httpx.Client(base_url=held_server.base_url, timeout=300) as client:
        yield client
    gate.open()


def test_disconnect_cancels_generation_and_keeps_the_partial_answer(held: httpx.Client, user_id: str) -> None:
    first = read_events_then_leave(str(held.base_url), user_id, events=3)
    answer = stored_answer(held, user_id, first["conversation_id"])
    assert answer["id"] == first["message_id"]
    assert answer["status"] == "partial"
    assert len(answer["content"].split()) < 200  # far from the 2000 tokens it was allowed


def test_the_model_answers_the_next_request_after_a_disconnect(held: httpx.Client, user_id: str) -> None:
    first = read_events_then_leave(str(held.base_url), user_id, events=2)
    # The answer is stored when its generation ends: partial means the disconnect ended it
    # (the held answer ends no other way), so the model is free for the next request.
    answer = stored_answer(held, user_id, first["conversation_id"])
    assert answer["status"] == "partial", answer
    reply = held.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4})
    assert reply.status_code == 200
    assert reply.json()["choices"][0]["message"]["content"]
