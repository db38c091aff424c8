"""The pipeline's own decisions, checked exactly with the fake chat backend (tests/fakes.py).

Real SQLite, Chroma and BM25 on a tmp dir and the real MiniLM embedder; only the chat
model is canned, so what the pipeline sends to it and what it stores can be asserted
as exact values. tests/rag/test_pipeline.py runs the same turn with the real model.
"""

from __future__ import annotations

from typing import Iterator

import pytest

from llm.types import GenerationParams
from rag.condense import CONDENSE_SYSTEM_EN, QUERY_SYSTEM_EN
from rag.types import TurnRequest
from tests.fakes import FakeChatBackend
from tests.pdfs import make_pdf

PARAMS = GenerationParams(max_new_tokens=16, temperature=0.0)
PAGES = [
    "Sourdough bread. Feed the starter with flour and water, then fold the dough every thirty minutes.",
    "Growing basil. Basil needs warm soil and six hours of sun. Pinch the flowers off.",
    "Fixing a flat tyre. Remove the wheel, find the puncture with soapy water, patch it.",
]


@pytest.fixture
def fake() -> FakeChatBackend:
    return FakeChatBackend()


@pytest.fixture
def services(tmp_path, fake, embedder) -> Iterator:
    from services import build_services
    from settings import Settings

    # search_phrasings on: most tests here check the search plan (off by default, see below)
    built = build_services(Settings(data_dir=tmp_path / "data", retrieval_strategy="standalone",
                                    search_phrasings=True), llm=fake, embedder=embedder)
    yield built
    built.close()


@pytest.fixture
def indexed(services, tmp_path):
    result = services.knowledge_base.add_file(make_pdf(tmp_path / "howto.pdf", PAGES), "howto.pdf")
    assert result.status == "ready"
    return services


def is_plan_call(call) -> bool:
    return call.messages[0]["content"] == QUERY_SYSTEM_EN


def test_a_first_question_gets_search_phrasings_and_stands_as_asked(indexed, fake):
    fake.plan("Question: How to patch a tyre\nSearch: puncture repair; soapy water")
    result = indexed.pipeline.run_turn(TurnRequest("u", "How do I patch a tyre?", params=PARAMS))
    [plan] = fake.calls_of("complete")
    assert is_plan_call(plan)
    assert plan.messages[1]["content"] == "Conversation:\n(none)\nLast question: How do I patch a tyre?"
    assert [c.kind for c in fake.calls] == ["complete", "stream"]  # one model call before the answer
    assert result.standalone_query == "How do I patch a tyre?"  # no history: nothing to rewrite


def test_phrasings_find_the_page_the_question_words_miss(services, fake, tmp_path):
    shop = ["Returns. Unused items can be sent back within a month.",
            "Turnaround time. Orders ship within five working days.",
            "Warranty. Two years on all parts, one year on batteries."]
    services.knowledge_base.add_file(make_pdf(tmp_path / "shop.pdf", shop), "shop.pdf")
    question = "What is the TAT?"
    fake.plan("Question: " + question)  # no phrasings: the question alone
    without = services.pipeline.run_turn(TurnRequest("u", question, params=PARAMS, k=1))
    fake.plan("Question: " + question + "\nSearch: turnaround time; shipping days")
    with_phrasings = services.pipeline.run_turn(TurnRequest("u", question, params=PARAMS, k=1))
    assert without.sources[0].page != 2
    assert with_phrasings.sources[0].page == 2


def test_follow_up_is_rewritten_with_the_history_and_the_rewrite_drives_retrieval(indexed, fake):
    cm = indexed.pipeline
    fake.enqueue(["Basil ", "likes ", "sun."])
    first = cm.run_turn(TurnRequest("u", "Tell me about basil.", params=PARAMS))
    fake.plan("Question: How do I fix a flat tyre?\nSearch: puncture")
    fake.enqueue(["Patch ", "it."])
    follow = cm.run_turn(TurnRequest("u", "And that other thing?", conversation_id=first.conversation_id,
                                     params=PARAMS))

    plan = fake.calls_of("complete")[-1]
    assert is_plan_call(plan)
    assert plan.messages[1]["content"] == (
        "Conversation:\nUser: Tell me about basil.\nAssistant: Basil likes sun [1].\nLast question: And that other thing?")
    assert follow.standalone_query == "How do I fix a flat tyre?"
    assert follow.sources[0].page == 3  # retrieved with the rewrite, not the raw question
    stored = indexed.history.get_messages("u", first.conversation_id)[-1]
    assert stored.standalone_query == "How do I fix a flat tyre?"


def test_by_default_a_first_question_goes_straight_to_the_answer_and_a_follow_up_is_rewritten(
        tmp_path, fake, embedder):
    from services import build_services
    from settings import Settings

    built = build_services(Settings(data_dir=tmp_path / "data"), llm=fake, embedder=embedder)
    try:
        built.knowledge_base.add_file(make_pdf(tmp_path / "howto.pdf", PAGES), "howto.pdf")
        first = built.pipeline.run_turn(TurnRequest("u", "Tell me about basil.", params=PARAMS))
        assert [c.kind for c in fake.calls] == ["stream"]
        fake.enqueue(["How do I fix a flat tyre?"])  # the rewrite-only condense call
        follow = built.pipeline.run_turn(TurnRequest("u", "And that other thing?", conversation_id=first.conversation_id,
                                                     params=PARAMS))
        [condense] = fake.calls_of("complete")
        assert condense.messages[0]["content"] == CONDENSE_SYSTEM_EN
        assert follow.standalone_query == "How do I fix a flat tyre?"
    finally:
        built.close()


def test_condense_off_means_no_model_call_before_the_answer(tmp_path, fake, embedder):
    from services import build_services
    from settings import Settings

    built = build_services(Settings(data_dir=tmp_path / "data", condense=False), llm=fake, embedder=embedder)
    try:
        built.knowledge_base.add_file(make_pdf(tmp_path / "howto.pdf", PAGES), "howto.pdf")
        built.pipeline.run_turn(TurnRequest("u", "How do I patch a tyre?", params=PARAMS))
        assert [c.kind for c in fake.calls] == ["stream"]
    finally:
        built.close()


def test_no_condensing_without_documents(services, fake):
    cm = services.pipeline
    first = cm.run_turn(TurnRequest("u", "Hello", params=PARAMS))
    cm.run_turn(TurnRequest("u", "And then?", conversation_id=first.conversation_id, params=PARAMS))
    assert fake.calls_of("complete") == []


def test_sources_are_persisted_with_the_answer(indexed, fake):
    fake.enqueue(["Use ", "soapy ", "water."])
    result = indexed.pipeline.run_turn(TurnRequest("u", "How do I find the puncture in a flat tyre?",
                                                   params=PARAMS))
    stored = indexed.history.get_messages("u", result.conversation_id)
    assert [m.role for m in stored] == ["user", "assistant"]
    answer = stored[-1]
    assert answer.content == "Use soapy water [1]." == result.text  # the mark the model forgot, added
    assert answer.sources == [s.to_dict() for s in result.sources] and answer.sources
    assert answer.sources[0]["page"] == 3 and answer.sources[0]["filename"] == "howto.pdf"
    assert answer.model == "fake-chat" and answer.status == "complete"
    assert answer.prompt_tokens == fake.count_tokens(fake.calls_of("stream")[0].messages)
    assert answer.completion_tokens == 3
    # the context the model saw is the retrieved passages
    assert "soapy water" in fake.calls_of("stream")[0].messages[-1]["content"]  # context + question come last (stable prefix first)


def test_window_keeps_the_newest_whole_turns(services, fake):
    cm = services.pipeline
    conv = cm.history_manager.start_conversation("u").id
    for i in range(10):
        cm.history_manager.add_message(conv, "user", f"question {i} " + "pad " * 20)
        cm.history_manager.add_message(conv, "assistant", f"answer {i} " + "pad " * 20)
    cm.run_turn(TurnRequest("u", "last question", conversation_id=conv, params=PARAMS,
                            history_token_budget=100))

    sent = fake.calls_of("stream")[0].messages
    assert sent[0]["role"] == "system" and sent[-1] == {"role": "user", "content": "last question"}
    middle = sent[1:-1]
    assert [m["role"] for m in middle] == ["user", "assistant"] * (len(middle) // 2) and middle
    # each pair costs 2 * (22 words + 2) = 48 tokens: two pairs fit in 100, the newest two
    assert [m["content"].split()[:2] for m in middle] == [
        ["question", "8"], ["answer", "8"], ["question", "9"], ["answer", "9"]]


def test_prompt_leaves_room_for_the_answer(services, fake):
    fake.context_window = 300
    cm = services.pipeline
    conv = cm.history_manager.start_conversation("u").id
    for i in range(20):
        cm.history_manager.add_message(conv, "user", f"q{i} " + "pad " * 30)
        cm.history_manager.add_message(conv, "assistant", f"a{i} " + "pad " * 30)
    cm.run_turn(TurnRequest("u", "newest", conversation_id=conv,
                            params=GenerationParams(max_new_tokens=120, temperature=0.0)))
    sent = fake.calls_of("stream")[0].messages
    assert fake.count_tokens(sent) <= 300 - 120
    assert sent[-1]["content"] == "newest" and sent[-2]["content"].startswith("a19")


def test_history_len_limits_the_stored_turns_sent(services, fake):
    cm = services.pipeline
    first = cm.run_turn(TurnRequest("u", "one", params=PARAMS))
    cm.run_turn(TurnRequest("u", "two", conversation_id=first.conversation_id, params=PARAMS))
    cm.run_turn(TurnRequest("u", "three", conversation_id=first.conversation_id, params=PARAMS, history_len=2))
    sent = fake.calls_of("stream")[-1].messages
    assert [m["content"] for m in sent[1:]] == ["two", "A canned answer.", "three"]


def test_stop_mid_answer_stores_a_partial_answer(services, fake):
    fake.enqueue(["one ", "two ", "three ", "four ", "five"])
    stream = services.pipeline.stream_turn(TurnRequest("u", "Count.", params=PARAMS))
    received = [next(stream), next(stream)]
    stream.close()
    last = services.history.get_messages("u", stream.conversation_id)[-1]
    assert (last.content, last.status) == ("".join(received), "partial")
    assert stream.result.finish_reason == "cancelled"


def test_an_answer_the_passages_do_not_hold_becomes_not_in_your_documents(indexed, fake):
    fake.enqueue(["The tyre ", "is painted ", "purple and gold [1]."])
    result = indexed.pipeline.run_turn(TurnRequest("u", "What colour is the tyre?", params=PARAMS))
    assert result.text == "Not in your documents."
    assert any("not found in the passages" in w for w in result.warnings) and result.replaced
    stored = indexed.history.get_messages("u", result.conversation_id)[-1]
    assert stored.content == "Not in your documents."


def test_an_answer_drawn_from_the_passages_is_kept(indexed, fake):
    fake.enqueue(["Find the puncture ", "with soapy water [1]."])
    result = indexed.pipeline.run_turn(TurnRequest("u", "How do I fix a flat tyre?", params=PARAMS))
    assert result.text == "Find the puncture with soapy water [1]."
    assert result.warnings == [] and not result.replaced


def test_an_answer_without_marks_gets_the_mark_of_the_passage_that_backs_it(indexed, fake):
    fake.enqueue(["Find the puncture ", "with soapy water, then patch it."])
    result = indexed.pipeline.run_turn(TurnRequest("u", "How do I fix a flat tyre?", params=PARAMS))
    tyre = next(i for i, s in enumerate(result.sources, 1) if "puncture" in s.text)
    assert result.text == f"Find the puncture with soapy water, then patch it [{tyre}]."
    assert result.sources[tyre - 1].cited and result.sources[tyre - 1].supported
    assert indexed.history.get_messages("u", result.conversation_id)[-1].content == result.text


def test_the_grounding_check_can_be_switched_off(tmp_path, fake, embedder):
    from services import build_services
    from settings import Settings

    built = build_services(Settings(data_dir=tmp_path / "data", grounding_check=False), llm=fake, embedder=embedder)
    try:
        built.knowledge_base.add_file(make_pdf(tmp_path / "howto.pdf", PAGES), "howto.pdf")
        fake.enqueue(["The tyre ", "is painted ", "purple and gold [1]."])
        result = built.pipeline.run_turn(TurnRequest("u", "What colour is the tyre?", params=PARAMS))
        assert result.text == "The tyre is painted purple and gold [1]."
    finally:
        built.close()


# --- questions about the collection (rag/collection.py) -----------------------------------------
def test_what_documents_do_i_have_is_answered_from_the_list_without_the_model(indexed, fake, tmp_path):
    indexed.knowledge_base.add_file(make_pdf(tmp_path / "shop.pdf", ["Returns within a month."]), "shop.pdf")
    result = indexed.pipeline.run_turn(TurnRequest("u", "What documents do I have?", params=PARAMS))
    day = indexed.knowledge_base.list()[0].created_at[:10]
    assert result.text == (f"You have 2 documents:\n1. howto.pdf — 3 pages, added {day}, ready\n"
                           f"2. shop.pdf — 1 page, added {day}, ready")
    assert fake.calls == []
    stored = indexed.history.get_messages("u", result.conversation_id)
    assert [m.content for m in stored] == ["What documents do I have?", result.text]


def test_which_documents_mention_lists_each_file_with_a_cited_passage(indexed, fake, tmp_path):
    indexed.knowledge_base.add_file(make_pdf(tmp_path / "garden.pdf", ["Pinch basil flowers off weekly.",
                                                                      "Tomatoes need stakes."]), "garden.pdf")
    result = indexed.pipeline.run_turn(TurnRequest("u", "Which documents mention basil flowers?", params=PARAMS))
    assert result.text.splitlines()[0] == "2 documents mention “basil flowers”:"
    assert sorted(result.text.splitlines()[1:]) == ["1. garden.pdf — pages 1 [1]", "2. howto.pdf — pages 2 [2]"] or \
        sorted(result.text.splitlines()[1:]) == ["1. howto.pdf — pages 2 [1]", "2. garden.pdf — pages 1 [2]"]
    assert {(s.filename, s.page, s.cited) for s in result.sources} == {("garden.pdf", 1, True), ("howto.pdf", 2, True)}
    assert fake.calls == []


def test_collection_questions_see_only_the_callers_documents(tmp_path, fake, embedder):
    from services import build_services
    from settings import Settings

    built = build_services(Settings(data_dir=tmp_path / "data", private_docs=True), llm=fake, embedder=embedder)
    try:
        kb = built.knowledge_base
        kb.add_file(make_pdf(tmp_path / "alice.pdf", ["Alice's basil notes."]), "alice.pdf", owner="alice")
        kb.add_file(make_pdf(tmp_path / "bob.pdf", ["Bob's basil notes."]), "bob.pdf", owner="bob")
        listed = built.pipeline.run_turn(TurnRequest("alice", "What files do I have?", params=PARAMS))
        assert "alice.pdf" in listed.text and "bob.pdf" not in listed.text
        mention = built.pipeline.run_turn(TurnRequest("bob", "Which documents mention basil?", params=PARAMS))
        assert "bob.pdf" in mention.text and "alice.pdf" not in mention.text
    finally:
        built.close()


def test_summarise_a_named_file_answers_from_its_pages_only(indexed, fake, tmp_path):
    indexed.knowledge_base.add_file(make_pdf(tmp_path / "shop.pdf", ["Returns within a month.",
                                                                    "Warranty two years."]), "shop.pdf")
    fake.enqueue(["Returns take a month [1] ", "and the warranty is two years [2]."])
    result = indexed.pipeline.run_turn(TurnRequest("u", "Summarise shop.pdf in two sentences.", params=PARAMS))
    assert {(s.filename, s.page) for s in result.sources} == {("shop.pdf", 1), ("shop.pdf", 2)}
    assert all(s.cited for s in result.sources)
    [answer] = fake.calls_of("stream")
    prompt = "\n".join(m["content"] for m in answer.messages)
    assert "Returns within a month." in prompt and "Warranty two years." in prompt
    assert "Sourdough" not in prompt  # nothing from the other file
    assert result.text == "Returns take a month [1] and the warranty is two years [2]."


def test_a_question_naming_a_file_is_searched_in_that_file_only(indexed, fake, tmp_path):
    indexed.knowledge_base.add_file(make_pdf(tmp_path / "shop.pdf", ["Returns within a month."]), "shop.pdf")
    result = indexed.pipeline.run_turn(TurnRequest("u", "In shop.pdf, how do I fix a flat tyre?", params=PARAMS))
    assert {s.filename for s in result.sources} == {"shop.pdf"}
    assert "Searched only shop.pdf (named in the question)." in result.warnings


def test_a_question_naming_a_files_subject_says_that_file_was_searched_first(indexed, fake, tmp_path):
    indexed.knowledge_base.add_file(make_pdf(tmp_path / "acme_2022_report.pdf",
                                             ["Acme sold 4,000 kites in 2022."]), "acme_2022_report.pdf")
    result = indexed.pipeline.run_turn(TurnRequest("u", "How many kites did Acme sell in 2022?", params=PARAMS))
    assert result.focus is not None and result.focus.filenames == ("acme_2022_report.pdf",)
    assert not result.focus.only
    assert "Searched acme_2022_report.pdf first (named in the question)." in result.warnings
    assert "acme_2022_report.pdf" in {s.filename for s in result.sources}
    plain = indexed.pipeline.run_turn(TurnRequest("u", "How do I fix a flat tyre?", params=PARAMS))
    assert plain.focus is None and not any("named in the question" in w for w in plain.warnings)
