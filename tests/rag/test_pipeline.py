"""The turn pipeline end to end: real SmolLM2, real MiniLM, real Chroma/BM25/SQLite."""

from __future__ import annotations

import gc
import threading

import pytest

from llm.types import GenerationParams
from rag.types import TurnRequest
from rag.types import EmptyQuestion, NothingToRegenerate
from storage.history import ConversationNotFound
from tests.pdfs import make_pdf

SHORT = GenerationParams(max_new_tokens=12, temperature=0.0)

HOWTO = [
    "Sourdough bread. The first step is to feed the starter with flour and water. "
    "The second step is to fold the sourdough every thirty minutes for three hours.",
    "Fixing a flat tyre. The first step is to remove the wheel. "
    "The second step is to find the puncture with soapy water. What is its second step? Patching.",
    "Painting a fence. The first step is to sand the wood. The second step is the primer.",
]
RECIPES = [
    "Sourdough bread. The first step is to feed the starter with flour and water. "
    "The second step is to fold the dough every thirty minutes for three hours.",
    "Growing basil. Basil needs warm soil and six hours of sun. Pinch the flowers off.",
    "Fixing a flat tyre. Remove the wheel, find the puncture with soapy water, patch it.",
]


@pytest.fixture
def services(make_services):
    return make_services(max_new_tokens=12, temperature=0.0)


@pytest.fixture
def indexed(services, tmp_path):
    pdf = make_pdf(tmp_path / "recipes.pdf", RECIPES)
    result = services.knowledge_base.add_file(pdf, "recipes.pdf")
    assert result.status == "ready"
    return services, result.id


def test_seed_000_usage_example_runs_and_stores_history(services):
    cm = services.pipeline
    first = cm.handle_message("test_user", "给我讲一些有关汉服的故事吧")
    second = cm.handle_message("test_user", "请根据上一个问题的回答写一个营销策划")
    assert isinstance(first, str) and first and isinstance(second, str) and second
    history = cm.history_manager.get_history("test_user")
    assert [m["role"] for m in history] == ["user", "assistant", "user", "assistant"]
    assert history[0]["content"] == "给我讲一些有关汉服的故事吧"
    assert history[1]["content"] == first


def test_plain_chat_without_documents_has_no_sources_and_no_condensing(services):
    cm = services.pipeline
    cm.run_turn(TurnRequest("u", "Hello there", params=SHORT))
    result = cm.run_turn(TurnRequest("u", "And what about it?", params=SHORT))
    assert result.sources == []
    assert result.standalone_query == "And what about it?"


def test_answer_cites_the_page_that_holds_the_answer(indexed):
    services, doc_id = indexed
    result = services.pipeline.run_turn(
        TurnRequest("u", "How do I find the puncture in a flat tyre?", params=SHORT)
    )
    assert result.sources, "retrieval returned nothing"
    top = result.sources[0]
    assert (top.filename, top.page, top.document_id) == ("recipes.pdf", 3, doc_id)
    stored = services.history.get_messages("u", result.conversation_id)
    assert stored[-1].id == result.message_id
    assert stored[-1].sources[0]["page"] == 3
    assert stored[-1].standalone_query == result.standalone_query


def test_follow_up_is_condensed_and_retrieves_the_earlier_topic(make_services, tmp_path):
    """Only the history says what "its" is: the raw follow-up finds the tyre page, the
    model's standalone rewrite finds the bread page. The rewrite is scripted (SmolLM2-135M
    answers the condense prompt instead of rewriting, and rag/standalone.py rightly refuses
    that); the index, the condense step's checks, retrieval and storage are real."""
    from tests.fakes import FakeChatBackend

    fake = FakeChatBackend()
    fake.enqueue(["Knead it."])  # the first answer
    fake.enqueue(["What is the second step of baking sourdough bread?"])  # the condense call
    services = make_services(max_new_tokens=12, temperature=0.0, retrieval_strategy="standalone", retrieval_k=1,
                             llm=fake)
    kb = services.knowledge_base
    assert kb.add_file(make_pdf(tmp_path / "howto.pdf", HOWTO), "howto.pdf").status == "ready"
    follow_up = "What is its second step?"
    [raw_hit] = kb.search([follow_up], k=1)
    assert raw_hit.page != 1, "the corpus must not answer the raw follow-up with the bread page"

    cm = services.pipeline
    first = cm.run_turn(TurnRequest("u", "How do I bake sourdough bread?", params=SHORT))
    follow = cm.run_turn(TurnRequest("u", follow_up, conversation_id=first.conversation_id, params=SHORT))

    assert follow.standalone_query != follow_up
    assert "sourdough" in follow.standalone_query.lower(), follow.standalone_query
    assert [(s.filename, s.page) for s in follow.sources] == [("howto.pdf", 1)]
    stored = services.history.get_messages("u", first.conversation_id)
    assert stored[-1].standalone_query == follow.standalone_query


def test_restricting_to_other_documents_excludes_this_one(indexed, tmp_path):
    services, doc_id = indexed
    other = services.knowledge_base.add_file(make_pdf(tmp_path / "other.pdf", ["Cats sleep a lot."]), "other.pdf")
    result = services.pipeline.run_turn(
        TurnRequest("u", "How do I fix a flat tyre?", params=SHORT, document_ids=[other.id])
    )
    assert result.sources and {s.document_id for s in result.sources} == {other.id}


def test_stop_mid_answer_keeps_a_partial_answer(services):
    cancel = threading.Event()
    stream = services.pipeline.stream_turn(
        TurnRequest("u", "Write a very long story about a dragon.",
                    params=GenerationParams(max_new_tokens=400, temperature=0.0)),
        cancel,
    )
    for i, _delta in enumerate(stream):
        if i == 3:
            cancel.set()
    assert stream.result.finish_reason == "cancelled"
    assert stream.result.usage.completion_tokens < 400
    last = services.history.get_messages("u", stream.conversation_id)[-1]
    assert last.role == "assistant" and last.status == "partial" and last.content == stream.result.text


def test_close_stops_and_persists(services):
    stream = services.pipeline.stream_turn(
        TurnRequest("u", "Count from one to one hundred.", params=GenerationParams(max_new_tokens=300))
    )
    next(stream)
    stream.close()
    assert stream.result.finish_reason == "cancelled"
    assert services.history.get_messages("u", stream.conversation_id)[-1].status == "partial"


def test_prompt_never_exceeds_the_budget_in_a_long_conversation(make_services):
    services = make_services(max_new_tokens=8, temperature=0.0, context_window=512, history_token_budget=200)
    cm = services.pipeline
    long_answer = "word " * 120
    conv = cm.run_turn(TurnRequest("u", "start", params=SHORT)).conversation_id
    for i in range(12):
        services.history.add_message(conv, "user", f"question number {i} " * 10)
        services.history.add_message(conv, "assistant", long_answer)
    result = cm.run_turn(TurnRequest("u", "What was question number 11?", conversation_id=conv,
                                     params=GenerationParams(max_new_tokens=8, temperature=0.0)))
    assert result.prompt_tokens <= 512 - 8
    stream = cm.stream_turn(TurnRequest("u", "again", conversation_id=conv,
                                        params=GenerationParams(max_new_tokens=8, temperature=0.0)))
    list(stream)
    sent = stream.prompt_messages
    assert services.llm.count_tokens(sent) <= 512 - 8
    kept = [m["content"] for m in sent if m["role"] == "user"]
    assert kept[-1] == "again" and "question number 11" in kept[-2]  # newest pair kept
    assert not any("question number 0 " in text for text in kept)  # oldest dropped
    assert [m["role"] for m in sent[1:]] == ["user", "assistant"] * (len(sent[1:]) // 2) + ["user"]


def test_users_never_see_each_others_conversations(services):
    cm = services.pipeline
    a = cm.run_turn(TurnRequest("alice", "Hi, I am Alice", params=SHORT))
    cm.run_turn(TurnRequest("bob", "Hi, I am Bob", params=SHORT))
    assert all("Alice" not in m["content"] for m in cm.history_manager.get_history("bob"))
    with pytest.raises(ConversationNotFound):
        cm.run_turn(TurnRequest("bob", "sneak", conversation_id=a.conversation_id, params=SHORT))


def test_regenerate_replaces_the_last_answer(services):
    cm = services.pipeline
    first = cm.run_turn(TurnRequest("u", "Name a colour.", params=SHORT))
    again = cm.run_turn(TurnRequest("u", "", conversation_id=first.conversation_id, regenerate=True, params=SHORT))
    messages = services.history.get_messages("u", first.conversation_id)
    assert [m.role for m in messages] == ["user", "assistant"]
    assert messages[-1].id == again.message_id != first.message_id


def test_bad_requests_raise_actionable_errors_before_storing(services):
    cm = services.pipeline
    with pytest.raises(EmptyQuestion):
        cm.run_turn(TurnRequest("u", "   "))
    conv = cm.history_manager.start_conversation("u")
    with pytest.raises(NothingToRegenerate):
        cm.run_turn(TurnRequest("u", "", conversation_id=conv.id, regenerate=True))
    assert cm.history_manager.get_messages("u", conv.id) == []


def test_stateless_turn_with_given_history_stores_nothing(services):
    cm = services.pipeline
    result = cm.run_turn(TurnRequest(
        "u", "And the second?", persist=False, params=SHORT,
        history=[{"role": "user", "content": "List two fruits."}, {"role": "assistant", "content": "Apple, pear."}],
    ))
    assert result.text and result.message_id is None and result.conversation_id is None
    assert cm.history_manager.list_conversations("u") == []


def test_an_answer_abandoned_by_its_reader_is_stored_as_partial(services):
    stream = services.pipeline.stream_turn(
        TurnRequest("u", "Write a long poem about rivers.", params=GenerationParams(max_new_tokens=300))
    )
    next(stream)
    conversation_id = stream.conversation_id
    del stream  # the reader goes away without pressing stop (e.g. a closed tab)
    gc.collect()
    last = services.history.get_messages("u", conversation_id)[-1]
    assert last.role == "assistant" and last.status == "partial"
