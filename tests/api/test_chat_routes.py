"""/api/chat (seed 003): fields round-trip, answers are stored, conversations are private."""

from __future__ import annotations

import sqlite3

import httpx
import pytest

from tests.api.conftest import SHORT, assert_error_shape, sse_data, sse_json


def chat(http: httpx.Client, user: str, **body) -> httpx.Response:
    return http.post("/api/chat", json={"max_tokens": SHORT, **body}, headers={"X-User-Id": user})


@pytest.fixture
def first_turn(http: httpx.Client, user_id: str) -> dict:
    response = chat(http, user_id, query="Tell me a story about hanfu.", use_rag=False, new_conversation=True)
    assert response.status_code == 200, response.text
    return response.json()


def test_chat_returns_text_ids_and_standalone_query(first_turn: dict) -> None:
    assert first_turn["text"].strip()
    assert first_turn["message_id"] and first_turn["conversation_id"]
    assert first_turn["standalone_query"] == "Tell me a story about hanfu."
    assert first_turn["sources"] == []


def test_both_messages_are_stored_with_the_returned_message_id(http: httpx.Client, user_id: str, first_turn: dict) -> None:
    response = http.get(f"/api/conversations/{first_turn['conversation_id']}/messages", headers={"X-User-Id": user_id})
    messages = response.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"] == "Tell me a story about hanfu."
    assert messages[1]["id"] == first_turn["message_id"]
    assert messages[1]["content"] == first_turn["text"]


def test_conversation_is_listed_for_its_user_only(http: httpx.Client, user_id: str, first_turn: dict) -> None:
    mine = http.get("/api/conversations", headers={"X-User-Id": user_id}).json()["conversations"]
    theirs = http.get("/api/conversations", headers={"X-User-Id": user_id + "-other"}).json()["conversations"]
    assert first_turn["conversation_id"] in [c["id"] for c in mine]
    assert first_turn["conversation_id"] not in [c["id"] for c in theirs]
    assert {"id", "title", "created_at", "updated_at"} <= set(mine[0])


def stored_prompt_tokens(server, message_id: str) -> int:
    """The prompt size the server stored with an answer: what really reached the model."""
    conn = sqlite3.connect(f"file:{server.data_dir / 'docchat.sqlite3'}?mode=ro", uri=True)
    try:
        [(tokens,)] = conn.execute("SELECT prompt_tokens FROM messages WHERE id = ?", (message_id,)).fetchall()
    finally:
        conn.close()
    assert tokens and tokens > 0
    return tokens


def test_follow_up_continues_the_conversation(http: httpx.Client, server, user_id: str, first_turn: dict) -> None:
    conversation = first_turn["conversation_id"]
    with_history = chat(http, user_id, query="Make it shorter.", conversation_id=conversation,
                        history_len=2, temperature=0.2, prompt_name="chat", model_name="anything").json()
    without = chat(http, user_id, query="Make it shorter.", conversation_id=conversation,
                   history_len=0, prompt_name="chat").json()
    assert with_history["conversation_id"] == without["conversation_id"] == conversation
    messages = http.get(f"/api/conversations/{conversation}/messages", headers={"X-User-Id": user_id}).json()["messages"]
    assert len(messages) == 6
    # the two stored messages of the first turn went into the first prompt, none into the second
    assert stored_prompt_tokens(server, with_history["message_id"]) > stored_prompt_tokens(server, without["message_id"])


def test_prompt_name_chat_skips_retrieval_and_condensing(http: httpx.Client, user_id: str, first_turn: dict,
                                                         uploaded_hanfu: dict) -> None:
    conversation = first_turn["conversation_id"]
    rag = chat(http, user_id, query="What is a horse-face skirt?", conversation_id=conversation,
               prompt_name="rag").json()
    plain = chat(http, user_id, query="What is a horse-face skirt?", conversation_id=conversation,
                 prompt_name="chat").json()
    assert rag["sources"] and {s["document_id"] for s in rag["sources"]} == {uploaded_hanfu["id"]}
    assert plain["sources"] == []
    assert plain["standalone_query"] == "What is a horse-face skirt?"  # no condensing without retrieval


LI = [{"role": "user", "content": "My name is Li and I live in a very tall house by the sea."},
      {"role": "assistant", "content": "Hello Li, a tall house by the sea sounds lovely."}]


@pytest.mark.parametrize("history", [LI, 2])
def test_history_may_be_a_list_or_a_count(http: httpx.Client, server, user_id: str, first_turn: dict,
                                          history) -> None:
    conversation = first_turn["conversation_id"]
    used = chat(http, user_id, query="What is my name?", history=history, use_rag=False,
                conversation_id=conversation)
    assert used.status_code == 200, used.text
    none = chat(http, user_id, query="What is my name?", history=0, use_rag=False, conversation_id=conversation)
    assert used.json()["text"] and none.json()["text"]
    assert stored_prompt_tokens(server, used.json()["message_id"]) > stored_prompt_tokens(
        server, none.json()["message_id"])


def test_stream_sends_deltas_then_sources_then_done(http: httpx.Client, user_id: str) -> None:
    response = chat(http, user_id, query="Say hello.", stream=True, new_conversation=True)
    assert response.headers["content-type"].startswith("text/event-stream")
    assert sse_data(response)[-1] == "[DONE]"
    events = sse_json(response)
    *deltas, last = events
    assert deltas and all({"text", "message_id", "conversation_id"} <= set(e) for e in deltas)
    assert len({(e["message_id"], e["conversation_id"]) for e in events}) == 1
    assert "sources" in last and "standalone_query" in last
    stored = http.get(f"/api/conversations/{last['conversation_id']}/messages", headers={"X-User-Id": user_id})
    assert stored.json()["messages"][-1]["content"] == "".join(e["text"] for e in events)


def test_another_users_conversation_is_not_found(http: httpx.Client, user_id: str, first_turn: dict) -> None:
    other = {"X-User-Id": "someone-else"}
    conversation = first_turn["conversation_id"]
    assert_error_shape(http.get(f"/api/conversations/{conversation}/messages", headers=other), 404)
    assert_error_shape(http.delete(f"/api/conversations/{conversation}", headers=other), 404)
    assert_error_shape(chat(http, "someone-else", query="hi", conversation_id=conversation), 404)
    assert_error_shape(chat(http, "someone-else", query="hi", conversation_id=conversation, stream=True), 404)


def test_deleted_conversation_is_gone(http: httpx.Client, user_id: str, first_turn: dict) -> None:
    conversation = first_turn["conversation_id"]
    assert http.delete(f"/api/conversations/{conversation}", headers={"X-User-Id": user_id}).status_code == 200
    assert_error_shape(http.get(f"/api/conversations/{conversation}/messages", headers={"X-User-Id": user_id}), 404)
