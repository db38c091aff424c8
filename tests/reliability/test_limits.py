"""Issue 7 §6: health, time limits and the busy answer, on a server with tight limits.

``--max-queue 0 --max-batch 1``: while one answer is being generated, the next chat is told "busy"
(503) at once. ``--generation-timeout-s``: a long answer is cut and stored as partial (on a
server whose model answers through a gate held until the limit cuts the answer, so a fast
CPU cannot finish the story first: ``held_model`` in tests/conftest.py).
``--ingest-timeout-s``: a PDF that takes longer fails alone, with a clear message.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.reliability.client import chat, messages, upload
from tests.reliability.consistency import disagreements
from tests.reliability.inputs import make_long_pdf

# Limits far below what the work needs on any machine, so the limit ends it, not the work:
# 4000 answer tokens are not generated in 4 s, 1000 pages are not read and embedded in 1 s.
GENERATION_TIMEOUT_S = 4
INGEST_TIMEOUT_S = 1
SLOW_PDF_PAGES = 1000
LONG_ANSWER = "Write a very long story about a dragon who counts every star in the sky, one by one."


@pytest.fixture(scope="module")
def tight_server(start_server):
    return start_server("--max-queue", "0", "--max-batch", "1", "--generation-timeout-s", str(GENERATION_TIMEOUT_S),
                        "--ingest-timeout-s", str(INGEST_TIMEOUT_S))


def test_healthz_reports_ready_with_the_models(server):
    response = httpx.get(f"{server.base_url}/healthz", timeout=30)
    assert response.status_code == 200
    assert response.json()["model"] and response.json()["embedding_model"]


@pytest.fixture(scope="module")
def timed_server(start_server, held_model):
    """A server with the generation time limit whose answers are held (``held_model``)
    until the limit ends them."""
    return start_server("--generation-timeout-s", str(GENERATION_TIMEOUT_S),
                        env={"DOCCHAT_LLM_BASE_URL": held_model[0]})


def test_long_answer_is_cut_at_the_generation_time_limit_and_stored_as_partial(timed_server, held_model):
    gate = held_model[1]
    gate.hold_next()
    try:
        response = chat(timed_server, "limits-user", LONG_ANSWER, max_tokens=4000, use_rag=False,
                        new_conversation=True)
    finally:
        gate.open()

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["finish_reason"] == "cancelled"
    stored = messages(timed_server, "limits-user", body["conversation_id"]).json()["messages"]
    answers = [m for m in stored if m["role"] == "assistant"]
    if body["text"]:
        assert [(m["content"], m["status"]) for m in answers] == [(body["text"], "partial")]
    else:  # cut before the first token: nothing stored rather than an empty answer
        assert answers == []


@pytest.fixture(scope="module")
def busy_answer(tight_server) -> httpx.Response:
    """A chat sent by 'busy-b' while the model streams a long answer for 'busy-a'."""
    with httpx.Client(timeout=120) as client:
        with client.stream("POST", f"{tight_server.base_url}/api/chat",
                           json={"query": LONG_ANSWER, "stream": True, "max_tokens": 4000, "use_rag": False,
                                 "new_conversation": True},
                           headers=tight_server.headers("busy-a")) as streaming:
            assert streaming.status_code == 200
            lines = streaming.iter_lines()
            first_event = next(line for line in lines if line.startswith("data:"))
            assert "text" in json.loads(first_event[5:])  # the model is now generating for busy-a

            busy = chat(tight_server, "busy-b", "Are you there?", use_rag=False, new_conversation=True)

            for _ in lines:  # let the first answer finish (the time limit ends it)
                pass
    return busy


def test_chat_beyond_the_queue_limit_gets_a_clear_503(busy_answer):
    assert busy_answer.status_code == 503, busy_answer.text
    error = busy_answer.json()["error"]
    assert error["type"] == "server_busy"
    assert "waiting" in error["message"] or "busy" in error["message"]
    assert busy_answer.headers.get("retry-after")


def test_busy_answer_leaves_no_unanswered_question_in_the_history(tight_server, busy_answer):
    assert busy_answer.status_code == 503
    conversations = httpx.get(f"{tight_server.base_url}/api/conversations", headers=tight_server.headers("busy-b"),
                              timeout=60).json()["conversations"]
    stored = [m for c in conversations for m in messages(tight_server, "busy-b", c["id"]).json()["messages"]]
    assert stored == []


def test_pdf_over_the_ingestion_time_limit_fails_alone(tight_server, tmp_path: Path):
    big = make_long_pdf(tmp_path / "slow.pdf", SLOW_PDF_PAGES).read_bytes()

    response = upload(tight_server, [("slow.pdf", big)])

    assert response.status_code == 200, response.text
    [doc] = response.json()["documents"]
    assert doc["status"] == "failed"
    assert doc["error"] == f"slow.pdf: indexing took longer than {INGEST_TIMEOUT_S} s"
    listed = httpx.get(f"{tight_server.base_url}/api/documents", timeout=60).json()["documents"]
    assert [d["status"] for d in listed if d["id"] == doc["id"]] == ["failed"]
    assert not disagreements(tight_server.data_dir)
