"""/v1 speaks OpenAI on the real server (``python app.py``, the bundled models): the official
client (sync, async, stream or not) and LangChain work, sampling fields change what the
real model says, and the answer budget never cuts the question out of the real model's
window (issue 10, item 6). What each field turns into at the model, and the validation
errors, are checked in-process in test_request_mapping.py and test_api_errors.py.
"""

from __future__ import annotations

import asyncio

import httpx
import openai
import pytest

from tests.api.conftest import assert_error_shape

QUESTION = [{"role": "user", "content": "List three colours."}]


@pytest.fixture(scope="module")
def client(server) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server.base_url}/v1", api_key="unused", max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def async_client(server) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server.base_url}/v1", api_key="unused", max_retries=0, timeout=300)


@pytest.fixture(scope="module")
def model_id(client: openai.OpenAI) -> str:
    return client.models.list().data[0].id


@pytest.fixture(scope="module")
def greedy_answer(client: openai.OpenAI, model_id: str) -> str:
    """A deterministic answer (temperature 0) to cut with stop strings."""
    reply = client.chat.completions.create(model=model_id, messages=QUESTION, max_tokens=24, temperature=0)
    return reply.choices[0].message.content


def test_models_lists_the_served_chat_model(client: openai.OpenAI, server, http) -> None:
    models = client.models.list().data
    assert len(models) == 1
    assert models[0].id == http.get("/healthz").json()["model"]


def test_completion_has_text_usage_and_length_finish(client: openai.OpenAI, model_id: str) -> None:
    reply = client.chat.completions.create(model=model_id, messages=QUESTION, max_tokens=4, temperature=0)
    choice = reply.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content
    assert choice.finish_reason == "length"
    assert reply.usage.completion_tokens == 4
    assert reply.usage.prompt_tokens > 0
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + 4


def test_stream_yields_deltas_then_finish_reason(client: openai.OpenAI, model_id: str) -> None:
    chunks = list(
        client.chat.completions.create(
            model=model_id, messages=QUESTION, max_tokens=4, stream=True, temperature=0,
            stream_options={"include_usage": True},
        )
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason]
    assert text.strip()
    assert finishes == ["length"]  # greedy, the 135M model lists 2 colours in 7 tokens: 4 cut it
    assert chunks[-1].usage.completion_tokens == 4


def test_stop_string_is_cut_when_not_streaming(client: openai.OpenAI, model_id: str, greedy_answer: str) -> None:
    stop = greedy_answer.split()[2]
    expected = greedy_answer[: greedy_answer.index(stop)]
    reply = client.chat.completions.create(
        model=model_id, messages=QUESTION, max_tokens=24, temperature=0, stop=[stop]
    )
    assert reply.choices[0].message.content == expected
    assert reply.choices[0].finish_reason == "stop"


def test_stop_string_is_cut_when_streaming(client: openai.OpenAI, model_id: str, greedy_answer: str) -> None:
    stop = greedy_answer.split()[2]
    expected = greedy_answer[: greedy_answer.index(stop)]
    chunks = list(
        client.chat.completions.create(
            model=model_id, messages=QUESTION, max_tokens=24, temperature=0, stop=stop, stream=True
        )
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_async_client_completes_and_streams(async_client: openai.AsyncOpenAI, model_id: str) -> None:
    async def both() -> tuple[str, str]:
        reply = await async_client.chat.completions.create(model=model_id, messages=QUESTION, max_tokens=8)
        stream = await async_client.chat.completions.create(
            model=model_id, messages=QUESTION, max_tokens=8, stream=True
        )
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream])
        return reply.choices[0].message.content, streamed

    text, streamed = asyncio.run(both())
    assert text.strip() and streamed.strip()


def test_top_k_one_makes_sampling_greedy(client: openai.OpenAI, model_id: str, greedy_answer: str) -> None:
    """At temperature 1 the answer is random unless top_k=1 leaves one candidate per token."""
    for _ in range(2):
        reply = client.chat.completions.create(
            model=model_id, messages=QUESTION, max_tokens=24, temperature=1.0, extra_body={"top_k": 1},
        )
        assert reply.choices[0].message.content == greedy_answer


def test_repetition_penalty_changes_the_greedy_answer(client: openai.OpenAI, model_id: str,
                                                      greedy_answer: str) -> None:
    reply = client.chat.completions.create(
        model=model_id, messages=QUESTION, max_tokens=24, temperature=0, extra_body={"repetition_penalty": 2.0},
    )
    assert reply.choices[0].message.content and reply.choices[0].message.content != greedy_answer


def test_use_rag_reply_carries_sources(client: openai.OpenAI, model_id: str, uploaded_hanfu: dict) -> None:
    reply = client.chat.completions.create(
        model=model_id,
        messages=[{"role": "user", "content": "What is a horse-face skirt?"}],
        max_tokens=8,
        extra_body={"use_rag": True, "document_ids": [uploaded_hanfu["id"]]},
    )
    sources = reply.model_extra["sources"]
    assert sources and {s["document_id"] for s in sources} == {uploaded_hanfu["id"]}
    assert all(s["page"] >= 1 for s in sources)
    plain = client.chat.completions.create(
        model=model_id, messages=[{"role": "user", "content": "What is a horse-face skirt?"}], max_tokens=8,
    )
    # the retrieved passages went into the prompt: it is longer than the bare question's
    assert reply.usage.prompt_tokens > plain.usage.prompt_tokens + 20


def test_without_use_rag_there_are_no_sources(client: openai.OpenAI, model_id: str, uploaded_hanfu: dict) -> None:
    reply = client.chat.completions.create(model=model_id, messages=QUESTION, max_tokens=4)
    assert "sources" not in (reply.model_extra or {})


def test_bad_request_raises_openai_error(client: openai.OpenAI, model_id: str) -> None:
    with pytest.raises(openai.APIStatusError) as info:
        client.chat.completions.create(model=model_id, messages=QUESTION, max_tokens=4, temperature=7)
    assert info.value.status_code == 422
    assert info.value.type == "invalid_request_error"


def test_langchain_chat_openai_works_against_docchat(server) -> None:
    from langchain_openai import ChatOpenAI  # the test extra: pip install -e '.[test]'

    llm = ChatOpenAI(
        base_url=f"{server.base_url}/v1", api_key="none", model="docchat", max_tokens=8, max_retries=0
    )
    assert llm.invoke("Say hello.").content
    assert "".join(chunk.content for chunk in llm.stream("Say hello.")).strip()


# --- issue 10, item 6: the answer budget against the real model's window ----------------


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
