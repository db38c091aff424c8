"""HistoryManager: conversations per user, messages in order, idle gap, isolation, export."""

from __future__ import annotations

import json
import uuid

import pytest

from storage.db import Database
from storage.history import DEFAULT_TITLE, ConversationNotFound, EmptyTitle, HistoryManager


@pytest.fixture
def sources():
    return [
        {"document_id": "d1", "filename": "hanfu.pdf", "page": 3, "text": "Hanfu is...", "score": 0.9},
        {"document_id": "d2", "filename": "tang.pdf", "page": 12, "text": "In the Tang...", "score": 0.5},
    ]


@pytest.fixture
def answered(history, sources):
    """A conversation of user alice with one question and its cited answer."""
    conversation = history.start_conversation("alice")
    history.add_message(conversation.id, "user", "Tell me a story about Hanfu")
    history.add_message(
        conversation.id,
        "assistant",
        "Once upon a time [1][2].",
        standalone_query="story about Hanfu",
        sources=sources,
        prompt_tokens=120,
        completion_tokens=8,
        model="SmolLM2-135M-Instruct",
        params={"temperature": 0.3},
    )
    return conversation


def test_message_round_trip_keeps_every_field(history, answered, sources, clock):
    question, answer = history.get_messages("alice", answered.id)

    assert (question.role, question.content, question.sources) == ("user", "Tell me a story about Hanfu", [])
    assert answer.role == "assistant"
    assert answer.content == "Once upon a time [1][2]."
    assert answer.standalone_query == "story about Hanfu"
    assert answer.sources == sources
    assert (answer.prompt_tokens, answer.completion_tokens) == (120, 8)
    assert answer.model == "SmolLM2-135M-Instruct"
    assert answer.params == {"temperature": 0.3}
    assert answer.status == "complete"
    assert answer.created_at == "2024-05-01T10:00:00.000000+00:00"
    assert uuid.UUID(answer.id).version == 4


def test_ids_are_uuid4(history):
    conversation = history.start_conversation("alice")
    assert uuid.UUID(conversation.id).version == 4


def test_sources_and_params_may_be_objects(history):
    from dataclasses import dataclass

    @dataclass
    class Params:
        temperature: float = 0.1

    class Source:
        def to_dict(self):
            return {"filename": "a.pdf", "page": 2}

    conversation = history.start_conversation("alice")
    message = history.add_message(conversation.id, "assistant", "ok", sources=[Source()], params=Params())

    (stored,) = history.get_messages("alice", conversation.id)
    assert stored.sources == message.sources == [{"filename": "a.pdf", "page": 2}]
    assert stored.params == {"temperature": 0.1}


def test_chinese_text_is_stored_as_is(history):
    conversation = history.start_conversation("alice")
    history.add_message(conversation.id, "user", "给我讲一些有关汉服的故事吧")

    assert history.get_messages("alice", conversation.id)[0].content == "给我讲一些有关汉服的故事吧"
    assert history.get_conversation("alice", conversation.id).title == "给我讲一些有关汉服的故事吧"


def test_first_question_titles_the_conversation(history):
    conversation = history.start_conversation("alice")
    assert conversation.title == DEFAULT_TITLE

    history.add_message(conversation.id, "user", "What is   the\nrefund policy?")
    history.add_message(conversation.id, "user", "And the second question?")

    assert history.get_conversation("alice", conversation.id).title == "What is the refund policy?"


def test_long_first_question_title_is_cut_near_sixty_chars(history):
    conversation = history.start_conversation("alice")
    history.add_message(conversation.id, "user", "word " * 40)

    title = history.get_conversation("alice", conversation.id).title
    assert len(title) <= 60
    assert title.endswith("…")
    assert title.startswith("word word")


def test_a_renamed_conversation_keeps_its_title(history):
    conversation = history.start_conversation("alice")
    history.rename_conversation("alice", conversation.id, "My trip")
    history.add_message(conversation.id, "user", "first question")

    assert history.get_conversation("alice", conversation.id).title == "My trip"


def test_rename_rejects_an_empty_title(history, answered):
    with pytest.raises(EmptyTitle):
        history.rename_conversation("alice", answered.id, "   ")


def test_add_message_bumps_updated_at(history, clock):
    conversation = history.start_conversation("alice")
    clock.advance(minutes=5)
    history.add_message(conversation.id, "user", "hi")

    assert history.get_conversation("alice", conversation.id).updated_at == "2024-05-01T10:05:00.000000+00:00"
    assert history.get_conversation("alice", conversation.id).created_at == "2024-05-01T10:00:00.000000+00:00"


def test_add_message_rejects_unknown_role_and_status(history, answered):
    with pytest.raises(ValueError):
        history.add_message(answered.id, "robot", "beep")
    with pytest.raises(ValueError):
        history.add_message(answered.id, "assistant", "x", status="broken")


def test_add_message_to_a_deleted_conversation_raises_not_found(history, answered):
    history.delete_conversation("alice", answered.id)
    with pytest.raises(ConversationNotFound):
        history.add_message(answered.id, "assistant", "too late")


def test_messages_keep_insertion_order_when_timestamps_tie(history, clock):
    conversation = history.start_conversation("alice")
    for n in range(10):  # the clock does not move: every created_at is the same
        history.add_message(conversation.id, "user" if n % 2 == 0 else "assistant", f"m{n}")

    assert [m.content for m in history.get_messages("alice", conversation.id)] == [f"m{n}" for n in range(10)]


def test_get_messages_limit_returns_the_last_n_oldest_first(history):
    conversation = history.start_conversation("alice")
    for n in range(6):
        history.add_message(conversation.id, "user", f"m{n}")

    assert [m.content for m in history.get_messages("alice", conversation.id, limit=2)] == ["m4", "m5"]
    assert history.get_messages("alice", conversation.id, limit=0) == []
    assert len(history.get_messages("alice", conversation.id, limit=-1)) == 6


def test_get_history_returns_the_latest_conversation_as_dicts(history, answered, clock):
    clock.advance(minutes=1)
    older = history.start_conversation("alice")
    history.add_message(older.id, "user", "other")
    clock.advance(minutes=1)
    history.add_message(answered.id, "user", "follow-up")

    turns = history.get_history("alice")

    assert [t["content"] for t in turns] == ["Tell me a story about Hanfu", "Once upon a time [1][2].", "follow-up"]
    assert {"role", "content", "id", "created_at", "sources", "standalone_query"} <= set(turns[0])
    assert [t["content"] for t in history.get_history("alice", older.id)] == ["other"]


def test_get_history_of_a_new_user_is_empty(history):
    assert history.get_history("nobody") == []


def test_list_conversations_newest_activity_first(history, clock):
    first = history.start_conversation("alice")
    clock.advance(minutes=1)
    second = history.start_conversation("alice")
    clock.advance(minutes=1)
    history.add_message(first.id, "user", "back to the first")

    assert [c.id for c in history.list_conversations("alice")] == [first.id, second.id]


def test_delete_conversation_removes_its_messages(history, answered, db):
    history.delete_conversation("alice", answered.id)

    assert history.list_conversations("alice") == []
    assert db.query("SELECT COUNT(*) FROM messages")[0][0] == 0
    with pytest.raises(ConversationNotFound):
        history.get_messages("alice", answered.id)


# --- resolving the conversation of a turn ---------------------------------------------
def test_turn_within_idle_gap_continues_the_conversation(history, answered, clock):
    clock.advance(minutes=29)
    assert history.resolve_conversation("alice").id == answered.id


def test_turn_after_idle_gap_starts_a_new_conversation(history, answered, clock):
    clock.advance(minutes=31)
    resolved = history.resolve_conversation("alice")

    assert resolved.id != answered.id
    assert history.get_history("alice") == []
    assert len(history.list_conversations("alice")) == 2


def test_idle_gap_is_configurable(db, clock):
    history = HistoryManager(db, idle_minutes=5, now=clock)
    conversation = history.start_conversation("alice")
    history.add_message(conversation.id, "user", "hi")
    clock.advance(minutes=6)

    assert history.resolve_conversation("alice").id != conversation.id


def test_an_empty_latest_conversation_is_reused_after_the_gap(history, clock):
    empty = history.start_conversation("alice")  # e.g. the user pressed "new chat"
    clock.advance(hours=3)

    assert history.resolve_conversation("alice").id == empty.id


def test_new_flag_always_starts_a_conversation(history, answered):
    assert history.resolve_conversation("alice", new=True).id != answered.id


def test_first_turn_of_a_user_creates_a_conversation(history):
    conversation = history.resolve_conversation("bob")
    assert history.list_conversations("bob") == [conversation]


def test_explicit_id_resolves_to_that_conversation(history, answered, clock):
    clock.advance(days=2)  # an explicit id is never subject to the idle gap
    assert history.resolve_conversation("alice", answered.id).id == answered.id


# --- isolation between users -------------------------------------------------------------
def test_two_users_never_see_each_others_conversations(history, answered):
    bob = history.resolve_conversation("bob")
    history.add_message(bob.id, "user", "bob's secret")

    assert [c.id for c in history.list_conversations("alice")] == [answered.id]
    assert [c.id for c in history.list_conversations("bob")] == [bob.id]
    assert [t["content"] for t in history.get_history("bob")] == ["bob's secret"]
    assert "bob's secret" not in json.dumps(history.get_history("alice"))


@pytest.mark.parametrize(
    "action",
    [
        lambda h, cid: h.get_conversation("bob", cid),
        lambda h, cid: h.get_messages("bob", cid),
        lambda h, cid: h.get_history("bob", cid),
        lambda h, cid: h.resolve_conversation("bob", cid),
        lambda h, cid: h.rename_conversation("bob", cid, "mine now"),
        lambda h, cid: h.delete_conversation("bob", cid),
        lambda h, cid: h.delete_last_answer("bob", cid),
        lambda h, cid: h.export_markdown("bob", cid),
        lambda h, cid: h.export_json("bob", cid),
    ],
    ids=["get", "messages", "history", "resolve", "rename", "delete", "regenerate", "markdown", "json"],
)
def test_a_foreign_conversation_id_is_not_found(history, answered, action):
    with pytest.raises(ConversationNotFound) as foreign:
        action(history, answered.id)
    with pytest.raises(ConversationNotFound) as unknown:
        action(history, str(uuid.uuid4()))

    assert type(foreign.value) is type(unknown.value)  # same error: existence never leaks
    assert history.get_conversation("alice", answered.id).title == "Tell me a story about Hanfu"
    assert len(history.get_messages("alice", answered.id)) == 2


# --- regenerate ---------------------------------------------------------------------------
def test_delete_last_answer_removes_it_and_returns_the_question(history, answered):
    question = history.delete_last_answer("alice", answered.id)

    assert question is not None and question.content == "Tell me a story about Hanfu"
    assert [m.role for m in history.get_messages("alice", answered.id)] == ["user"]


def test_delete_last_answer_without_an_answer_deletes_nothing(history):
    conversation = history.start_conversation("alice")
    assert history.delete_last_answer("alice", conversation.id) is None

    history.add_message(conversation.id, "user", "unanswered")
    question = history.delete_last_answer("alice", conversation.id)

    assert question is not None and question.content == "unanswered"
    assert len(history.get_messages("alice", conversation.id)) == 1


# --- partial answers ----------------------------------------------------------------------
def test_partial_answer_can_be_completed_later(history, answered):
    partial = history.add_message(answered.id, "assistant", "Once", status="partial")
    done = history.update_message(partial.id, content="Once upon a time.", status="complete", completion_tokens=5)

    assert (done.content, done.status, done.completion_tokens) == ("Once upon a time.", "complete", 5)
    assert history.get_messages("alice", answered.id)[-1] == done


def test_update_of_a_missing_message_raises(history):
    with pytest.raises(LookupError):
        history.update_message(str(uuid.uuid4()), content="x")


# --- export ---------------------------------------------------------------------------------
def test_export_markdown_lists_messages_and_sources(history, answered, clock):
    clock.advance(seconds=5)
    history.add_message(answered.id, "assistant", "Half an ans", status="partial")

    assert history.export_markdown("alice", answered.id) == (
        "# Tell me a story about Hanfu\n"
        "\n"
        "## User · 2024-05-01 10:00:00 UTC\n"
        "\n"
        "Tell me a story about Hanfu\n"
        "\n"
        "## Assistant · 2024-05-01 10:00:00 UTC\n"
        "\n"
        "Once upon a time [1][2].\n"
        "\n"
        "Sources:\n"
        "1. hanfu.pdf p. 3\n"
        "2. tang.pdf p. 12\n"
        "\n"
        "## Assistant · 2024-05-01 10:00:05 UTC (interrupted)\n"
        "\n"
        "Half an ans\n"
    )


def test_export_json_is_the_conversation_with_its_messages(history, answered, sources):
    exported = history.export_json("alice", answered.id)
    messages = exported.pop("messages")

    assert exported == {
        "id": answered.id,
        "user_id": "alice",
        "title": "Tell me a story about Hanfu",
        "created_at": "2024-05-01T10:00:00.000000+00:00",
        "updated_at": "2024-05-01T10:00:00.000000+00:00",
    }
    assert [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[1] == {
        "id": messages[1]["id"],
        "conversation_id": answered.id,
        "role": "assistant",
        "content": "Once upon a time [1][2].",
        "created_at": "2024-05-01T10:00:00.000000+00:00",
        "standalone_query": "story about Hanfu",
        "sources": sources,
        "prompt_tokens": 120,
        "completion_tokens": 8,
        "model": "SmolLM2-135M-Instruct",
        "params": {"temperature": 0.3},
        "status": "complete",
        "calculations": [],
    }
    exported["messages"] = messages
    # plain data: survives a JSON round trip unchanged (sources, params and all)
    assert json.loads(json.dumps(exported)) == exported


# --- persistence --------------------------------------------------------------------------
def test_history_survives_reopening_the_database(db_path, answered, clock, db):
    db.close()
    reopened = Database(db_path)
    try:
        history = HistoryManager(reopened, now=clock)
        assert [c.id for c in history.list_conversations("alice")] == [answered.id]
        assert [t["content"] for t in history.get_history("alice")] == [
            "Tell me a story about Hanfu",
            "Once upon a time [1][2].",
        ]
    finally:
        reopened.close()


def test_export_markdown_says_which_sources_were_cited_and_which_did_not_back_the_answer(history):
    conversation = history.start_conversation("carol")
    history.add_message(conversation.id, "user", "Where is pu-erh aged?")
    history.add_message(conversation.id, "assistant", "In Yunnan [1]. By pandas [2].", sources=[
        {"filename": "tea.pdf", "page": 2, "cited": True, "supported": True},
        {"filename": "tea.pdf", "page": 1, "cited": True, "supported": False},
        {"filename": "zoo.pdf", "page": 4, "cited": False, "supported": None},
    ])
    markdown = history.export_markdown("carol", conversation.id)
    assert ("Sources:\n1. tea.pdf p. 2 — cited\n2. tea.pdf p. 1 — cited, not found on the cited page\n"
            "3. zoo.pdf p. 4\n") in markdown


def test_count_messages_counts_only_that_conversation(history):
    first = history.start_conversation("alice")
    other = history.start_conversation("alice")
    for n in range(5):
        history.add_message(first.id, "user", f"m{n}")
    history.add_message(other.id, "user", "x")
    assert history.count_messages("alice", first.id) == 5
    assert history.count_messages("alice", other.id) == 1
