"""What each HTTP field turns into at the model: the real FastAPI app in-process, real
storage, Chroma and embedder, and the fake chat backend that records every request
(``client``, ``services`` and ``fake`` of tests/api/conftest.py).

The end-to-end tests beside this one run the real server and model; these check the
parts of a request whose effect a short answer from a 135M model cannot show: seed 002's
defaults, the OpenAI extras, seed 003's history fields and prompt names.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from llm.types import GenerationParams
from tests.api.conftest import HANFU_PAGES, sse_json
from tests.fakes import FakeChatBackend
from tests.pdfs import make_pdf


@pytest.fixture
def with_hanfu(services, tmp_path) -> str:
    result = services.knowledge_base.add_file(make_pdf(tmp_path / "hanfu.pdf", HANFU_PAGES), "hanfu.pdf")
    assert result.status == "ready"
    return result.id


def sent(fake: FakeChatBackend):
    """The one answer request the model got."""
    [call] = fake.calls_of("stream")
    return call


# --- seed 002 ----------------------------------------------------------------------------
def test_seed_002_defaults_reach_the_model(client, fake, services):
    fake.enqueue(["Hel", "lo"])
    response = client.post("/sse/subscribe", json={"messages": [{"question": "Hi"}]})
    events = sse_json(response)
    assert "".join(e["resData"]["message"] for e in events) == "Hello"
    assert replace(sent(fake).params, shared_prefix="") == GenerationParams(
        max_new_tokens=5000, temperature=0.6, top_p=0.95, top_k=0,
        repetition_penalty=services.settings.repetition_penalty)
    assert sent(fake).params.shared_prefix == services.settings.system_prompt  # the server's: any user may reuse it
    assert sent(fake).messages[-1] == {"role": "user", "content": "Hi"}


def test_seed_002_default_length_never_erases_the_question(client, fake):
    """Issue 10: a 5000-token default answer on a 4k model left no room for the question,
    which was cut out of the prompt. The question must reach the model whole, or be refused."""
    fake.context_window = 4096
    response = client.post("/sse/subscribe", json={"messages": [{"question": "What is the capital of France?"}]})
    events = sse_json(response)
    if events and events[0]["flag"] is False:  # refused: say why, send nothing to the model
        assert events[0]["errCode"] and fake.calls_of("stream") == []
        return
    call = sent(fake)
    assert call.messages[-1] == {"role": "user", "content": "What is the capital of France?"}
    assert fake.count_tokens(call.messages) + call.params.max_new_tokens <= 4096


def test_seed_002_fields_and_answered_pairs_reach_the_model(client, fake):
    body = {"messages": [{"question": "你好", "answer": "你好！"}, {"question": "没回答", "answer": ""},
                         {"question": "1+1=?", "answer": ""}],
            "top_p": 0.9, "top_k": 10, "response_length": 16, "temperature": 0.8}
    client.post("/sse/subscribe", json=body)
    call = sent(fake)
    assert (call.params.max_new_tokens, call.params.temperature, call.params.top_p, call.params.top_k) == (
        16, 0.8, 0.9, 10)
    assert call.messages[1:] == [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"},
                                 {"role": "user", "content": "1+1=?"}]


def test_seed_002_response_length_zero_means_the_server_default(client, fake, services):
    client.post("/sse/subscribe", json={"messages": [{"question": "Hi"}], "response_length": 0})
    assert sent(fake).params.max_new_tokens == services.settings.max_new_tokens


# --- OpenAI-compatible --------------------------------------------------------------------
def test_openai_sampling_fields_and_extras_reach_the_model(client, fake):
    response = client.post("/v1/chat/completions", json={
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Colours?"}],
        "max_tokens": 7, "temperature": 0.4, "top_p": 0.8, "stop": ["END"],
        "top_k": 5, "repetition_penalty": 1.2, "seed": 42})
    assert response.status_code == 200, response.text
    params = sent(fake).params
    assert (params.max_new_tokens, params.temperature, params.top_p, params.stop) == (7, 0.4, 0.8, ("END",))
    assert (params.top_k, params.repetition_penalty, params.seed) == (5, 1.2, 42)
    assert sent(fake).messages[0]["content"].startswith("Be brief.")
    assert sent(fake).messages[-1] == {"role": "user", "content": "Colours?"}
    assert params.shared_prefix == ""  # a caller's own system prompt is never reused by others


def test_openai_max_tokens_beyond_the_window_never_erases_the_question(client, fake):
    """Issue 10: max_tokens 9000 on an 8k model answered with the question cut out of the prompt."""
    fake.context_window = 8192
    response = client.post("/v1/chat/completions", json={
        "messages": [{"role": "user", "content": "What is the capital of France?"}], "max_tokens": 9000})
    if response.status_code == 400:  # refused with a message, nothing sent to the model
        assert response.json()["error"]["message"] and fake.calls_of("stream") == []
        return
    assert response.status_code == 200, response.text
    call = sent(fake)
    assert call.messages[-1] == {"role": "user", "content": "What is the capital of France?"}
    assert response.json()["usage"]["prompt_tokens"] == fake.count_tokens(call.messages)


def test_openai_use_rag_puts_the_passages_into_the_prompt(client, fake, with_hanfu):
    question = {"messages": [{"role": "user", "content": "What is a horse-face skirt?"}], "max_tokens": 4}
    client.post("/v1/chat/completions", json=question)
    client.post("/v1/chat/completions", json={**question, "use_rag": True, "document_ids": [with_hanfu]})
    plain, rag = fake.calls_of("stream")
    assert "mamianqun" not in plain.messages[-1]["content"]  # use_rag defaults to false
    assert "mamianqun" in rag.messages[-1]["content"]


# --- seed 003 /api/chat -------------------------------------------------------------------
def chat(client: TestClient, **body) -> dict:
    response = client.post("/api/chat", json={"max_tokens": 8, **body}, headers={"X-User-Id": "u"})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def two_turns(client, fake) -> str:
    first = chat(client, query="one", use_rag=False)
    chat(client, query="two", use_rag=False, conversation_id=first["conversation_id"])
    fake.calls.clear()
    return first["conversation_id"]


def test_history_list_replaces_the_stored_history(client, fake, two_turns):
    given = [{"role": "user", "content": "My name is Li."}, {"role": "assistant", "content": "Hello Li."}]
    chat(client, query="What is my name?", use_rag=False, conversation_id=two_turns, history=given)
    assert sent(fake).messages[1:] == [*given, {"role": "user", "content": "What is my name?"}]


@pytest.mark.parametrize(("field", "value", "kept"), [
    ("history", 0, []), ("history", 2, ["two", "A canned answer."]),
    ("history_len", 0, []), ("history_len", 2, ["two", "A canned answer."]),
    ("history_len", -1, ["one", "A canned answer.", "two", "A canned answer."]),
])
def test_history_count_takes_the_newest_stored_messages(client, fake, two_turns, field, value, kept):
    chat(client, query="three", use_rag=False, conversation_id=two_turns, **{field: value})
    assert [m["content"] for m in sent(fake).messages[1:]] == [*kept, "three"]


def test_prompt_name_chat_answers_without_the_documents(client, fake, with_hanfu):
    rag = chat(client, query="What is a horse-face skirt?", prompt_name="rag")
    plain = chat(client, query="What is a horse-face skirt?", prompt_name="chat")
    rag_call, chat_call = fake.calls_of("stream")
    assert rag["sources"] and "mamianqun" in rag_call.messages[-1]["content"]
    assert plain["sources"] == [] and "mamianqun" not in chat_call.messages[-1]["content"]


def test_temperature_and_max_tokens_reach_the_model(client, fake):
    chat(client, query="hi", use_rag=False, temperature=0.25, max_tokens=3)
    assert (sent(fake).params.temperature, sent(fake).params.max_new_tokens) == (0.25, 3)


def test_search_is_model_free_unless_expand_asks_for_the_models_phrasings(client, fake, tmp_path):
    shop = ["Returns. Unused items can be sent back within a month.",
            "Turnaround time. Orders ship within five working days.",
            "Warranty. Two years on all parts, one year on batteries."]
    client.post("/api/documents", files=[("files", ("shop.pdf", make_pdf(tmp_path / "shop.pdf", shop).read_bytes(),
                                                     "application/pdf"))]).raise_for_status()
    plain = client.post("/api/search", json={"query": "What is the TAT?", "k": 1}).json()["results"]
    assert fake.calls == []
    fake.plan("Question: What is the TAT?\nSearch: turnaround time; shipping days")
    expanded = client.post("/api/search", json={"query": "What is the TAT?", "k": 1, "expand": True}).json()["results"]
    assert [c.kind for c in fake.calls] == ["complete"]
    assert plain[0]["page"] != 2 and expanded[0]["page"] == 2


def test_a_history_length_beyond_any_integer_the_database_takes_is_served(client, fake):
    """Found by schemathesis: history_len 2**104 reached SQLite's LIMIT and failed with a 500."""
    response = client.post("/api/chat", json={"query": "Hi", "history_len": 10**31})
    assert response.status_code == 200, response.text
    assert sent(fake).messages[-1]["content"].endswith("Hi")


def test_search_results_and_chat_sources_carry_the_section_and_search_filters_by_statement(client, fake, tmp_path):
    pages = ["Acme Corp.\nCONSOLIDATED BALANCE SHEETS\n(In millions)\nCash and cash equivalents 1,200 1,100\n"
             "Inventories 800 750\nTotal assets 9,000 8,500",
             "Acme Corp.\nCONSOLIDATED STATEMENTS OF CASH FLOWS\n(In millions)\n"
             "Purchases of property and equipment (450) (400)\nNet cash used in investing activities (700) (650)"]
    pdf = make_pdf(tmp_path / "acme.pdf", pages)
    client.post("/api/documents", files=[("files", ("acme.pdf", pdf.read_bytes(), "application/pdf"))]).raise_for_status()
    results = client.post("/api/search", json={"query": "inventories and cash", "k": 2}).json()["results"]
    assert {r["page"]: r["section"] for r in results} == {1: "Consolidated Balance Sheets",
                                                          2: "Consolidated Statements of Cash Flows"}
    only = client.post("/api/search", json={"query": "inventories and cash", "statement": "cash_flow"}).json()
    assert [r["page"] for r in only["results"]] == [2]
    assert client.post("/api/search", json={"query": "cash", "statement": "ledger"}).status_code == 422
    answer = chat(client, query="How much were inventories?", prompt_name="rag")
    assert "Consolidated Balance Sheets" in {s["section"] for s in answer["sources"]}
