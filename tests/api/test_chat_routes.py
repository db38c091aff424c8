"""/api/chat (seed 003): fields round-trip, answers are stored, conversations are private.

In-process (``app_client`` of tests/api/conftest.py: the real app and storage, the fake
chat model). The real model streaming over a real socket, and a client leaving mid-stream,
are in test_chat_live.py.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import SHORT, assert_error_shape, upload_pdf


@pytest.fixture(scope="module")
def hanfu_in_app(app_client: httpx.Client, hanfu_pdf: Path) -> dict:
    """The Hanfu PDF indexed in this module's app; its upload entry."""
    return upload_pdf(app_client, hanfu_pdf)


def data_dir(client) -> Path:
    """The data dir of the in-process app behind ``client``."""
    return client.app.state.services.settings.data_dir


def chat(client: httpx.Client, user: str, **body) -> httpx.Response:
    return client.post("/api/chat", json={"max_tokens": SHORT, **body}, headers={"X-User-Id": user})


@pytest.fixture
def first_turn(app_client: httpx.Client, user_id: str) -> dict:
    response = chat(app_client, user_id, query="Tell me a story about hanfu.", use_rag=False, new_conversation=True)
    assert response.status_code == 200, response.text
    return response.json()


def test_chat_returns_text_ids_and_standalone_query(first_turn: dict) -> None:
    assert first_turn["text"].strip()
    assert first_turn["message_id"] and first_turn["conversation_id"]
    assert first_turn["standalone_query"] == "Tell me a story about hanfu."
    assert first_turn["sources"] == []


def test_both_messages_are_stored_with_the_returned_message_id(app_client: httpx.Client, user_id: str, first_turn: dict) -> None:
    response = app_client.get(f"/api/conversations/{first_turn['conversation_id']}/messages", headers={"X-User-Id": user_id})
    messages = response.json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"] == "Tell me a story about hanfu."
    assert messages[1]["id"] == first_turn["message_id"]
    assert messages[1]["content"] == first_turn["text"]


def test_conversation_is_listed_for_its_user_only(app_client: httpx.Client, user_id: str, first_turn: dict) -> None:
    mine = app_client.get("/api/conversations", headers={"X-User-Id": user_id}).json()["conversations"]
    theirs = app_client.get("/api/conversations", headers={"X-User-Id": user_id + "-other"}).json()["conversations"]
    assert first_turn["conversation_id"] in [c["id"] for c in mine]
    assert first_turn["conversation_id"] not in [c["id"] for c in theirs]
    assert {"id", "title", "created_at", "updated_at"} <= set(mine[0])


def stored_prompt_tokens(data_dir: Path, message_id: str) -> int:
    """The prompt size the server stored with an answer: what really reached the model."""
    conn = sqlite3.connect(f"file:{data_dir / 'docchat.sqlite3'}?mode=ro", uri=True)
    try:
        [(tokens,)] = conn.execute("SELECT prompt_tokens FROM messages WHERE id = ?", (message_id,)).fetchall()
    finally:
        conn.close()
    assert tokens and tokens > 0
    return tokens


def test_follow_up_continues_the_conversation(app_client: httpx.Client, user_id: str, first_turn: dict) -> None:
    conversation = first_turn["conversation_id"]
    with_history = chat(app_client, user_id, query="Make it shorter.", conversation_id=conversation,
                        history_len=2, temperature=0.2, prompt_name="chat", model_name="anything").json()
    without = chat(app_client, user_id, query="Make it shorter.", conversation_id=conversation,
                   history_len=0, prompt_name="chat").json()
    assert with_history["conversation_id"] == without["conversation_id"] == conversation
    messages = app_client.get(f"/api/conversations/{conversation}/messages", headers={"X-User-Id": user_id}).json()["messages"]
    assert len(messages) == 6
    # the two stored messages of the first turn went into the first prompt, none into the second
    stored = data_dir(app_client)
    assert stored_prompt_tokens(stored, with_history["message_id"]) > stored_prompt_tokens(stored, without["message_id"])


def test_prompt_name_chat_skips_retrieval_and_condensing(app_client: httpx.Client, user_id: str, first_turn: dict,
                                                         hanfu_in_app: dict) -> None:
    conversation = first_turn["conversation_id"]
    rag = chat(app_client, user_id, query="What is a horse-face skirt?", conversation_id=conversation,
               prompt_name="rag").json()
    plain = chat(app_client, user_id, query="What is a horse-face skirt?", conversation_id=conversation,
                 prompt_name="chat").json()
    assert rag["sources"] and {s["document_id"] for s in rag["sources"]} == {hanfu_in_app["id"]}
    assert plain["sources"] == []
    assert plain["standalone_query"] == "What is a horse-face skirt?"  # no condensing without retrieval


LI = [{"role": "user", "content": "My name is Li and I live in a very tall house by the sea."},
      {"role": "assistant", "content": "Hello Li, a tall house by the sea sounds lovely."}]


@pytest.mark.parametrize("history", [LI, 2])
def test_history_may_be_a_list_or_a_count(app_client: httpx.Client, user_id: str, first_turn: dict,
                                          history) -> None:
    conversation = first_turn["conversation_id"]
    used = chat(app_client, user_id, query="What is my name?", history=history, use_rag=False,
                conversation_id=conversation)
    assert used.status_code == 200, used.text
    none = chat(app_client, user_id, query="What is my name?", history=0, use_rag=False, conversation_id=conversation)
    assert used.json()["text"] and none.json()["text"]
    assert stored_prompt_tokens(data_dir(app_client), used.json()["message_id"]) > stored_prompt_tokens(
        data_dir(app_client), none.json()["message_id"])


def test_another_users_conversation_is_not_found(app_client: httpx.Client, user_id: str, first_turn: dict) -> None:
    other = {"X-User-Id": "someone-else"}
    conversation = first_turn["conversation_id"]
    assert_error_shape(app_client.get(f"/api/conversations/{conversation}/messages", headers=other), 404)
    assert_error_shape(app_client.delete(f"/api/conversations/{conversation}", headers=other), 404)
    assert_error_shape(chat(app_client, "someone-else", query="hi", conversation_id=conversation), 404)
    assert_error_shape(chat(app_client, "someone-else", query="hi", conversation_id=conversation, stream=True), 404)


def test_deleted_conversation_is_gone(app_client: httpx.Client, user_id: str, first_turn: dict) -> None:
    conversation = first_turn["conversation_id"]
    assert app_client.delete(f"/api/conversations/{conversation}", headers={"X-User-Id": user_id}).status_code == 200
    assert_error_shape(app_client.get(f"/api/conversations/{conversation}/messages", headers={"X-User-Id": user_id}), 404)
