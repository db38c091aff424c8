"""OpenAIBackend against a real OpenAI-compatible server on 127.0.0.1 (wrapping the bundled model)."""

from __future__ import annotations

import socket
import threading

import pytest

from llm.model_paths import bundled_chat_model
from llm.openai_backend import LLMServerError, OpenAIBackend, api_base, request_params
from llm.tokens import approx_message_tokens, approx_text_tokens
from llm.types import GenerationParams, Message


@pytest.fixture
def capital_question() -> list[Message]:
    return [{"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def remote(openai_server) -> OpenAIBackend:
    url, _ = openai_server
    return OpenAIBackend(url)


@pytest.fixture
def server_app(openai_server):
    _, app = openai_server
    app.state.requests.clear()
    app.state.report_usage = True
    yield app
    app.state.report_usage = True


def test_first_listed_model_and_its_context_window_are_used(remote, transformers_smollm2):
    assert remote.model == transformers_smollm2.name
    assert remote.context_window == transformers_smollm2.context_window
    assert remote.device == "remote"


def test_stream_over_http_matches_the_local_greedy_answer(remote, transformers_smollm2, capital_question, greedy):
    local = transformers_smollm2.complete(capital_question, greedy)
    stream = remote.stream(capital_question, greedy)
    pieces = list(stream)

    assert len(pieces) > 1
    assert "".join(pieces) == local.text
    assert stream.usage == local.usage  # reported by the server


def test_complete_without_streaming(remote, transformers_smollm2, capital_question, greedy):
    completion = remote.complete(capital_question, greedy)

    assert completion.text == transformers_smollm2.complete(capital_question, greedy).text
    assert completion.usage.completion_tokens > 0
    assert completion.usage.finish_reason == "stop"


def test_sampling_extras_reach_the_server(remote, server_app, capital_question):
    params = GenerationParams(max_new_tokens=12, temperature=0.7, top_p=0.9, top_k=5,
                              repetition_penalty=1.2, stop=("\n\n",))
    remote.complete(capital_question, params)

    body = server_app.state.requests[-1]
    assert body["top_k"] == 5
    assert body["repetition_penalty"] == 1.2
    assert body["top_p"] == 1.0  # top_k on switches top_p off (seed 002)
    assert body["temperature"] == 0.7
    assert body["max_tokens"] == 12
    assert body["stop"] == ["\n\n"]
    assert body["model"] == remote.model


def test_stream_asks_the_server_for_usage(remote, server_app, capital_question, greedy):
    list(remote.stream(capital_question, greedy))

    assert server_app.state.requests[-1]["stream_options"] == {"include_usage": True}


def test_usage_is_counted_when_the_server_reports_none(remote, server_app, capital_question, greedy):
    server_app.state.report_usage = False
    stream = remote.stream(capital_question, greedy)
    text = "".join(stream)

    assert stream.usage.prompt_tokens == approx_message_tokens(capital_question)
    assert stream.usage.completion_tokens == approx_text_tokens(text)


def test_cancel_closes_the_stream(remote, transformers_smollm2, capital_question, greedy):
    cancel = threading.Event()
    story = [{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]
    stream = remote.stream(story, GenerationParams(max_new_tokens=32, temperature=0.0), cancel)
    received = []
    for piece in stream:
        received.append(piece)
        if len(received) == 2:
            cancel.set()

    assert len(received) == 2
    assert stream.usage.finish_reason == "cancelled"
    assert "Paris" in remote.complete(capital_question, greedy).text  # the server takes the next request


def test_local_tokenizer_is_used_when_it_loads_offline(openai_server, transformers_smollm2, capital_question):
    url, _ = openai_server
    folder, gguf = bundled_chat_model()
    remote = OpenAIBackend(url, tokenizer_source=str(folder / gguf))

    assert remote.count_tokens(capital_question) == transformers_smollm2.count_tokens(capital_question)
    assert remote.truncate_text("汉服是汉族的传统服饰", 3) == transformers_smollm2.truncate_text("汉服是汉族的传统服饰", 3)


def test_token_estimate_without_a_local_tokenizer(remote):
    assert remote.count_text_tokens("汉服 hanfu") == approx_text_tokens("汉服 hanfu")
    assert remote.truncate_text("汉服是汉族的传统服饰", 3) == "汉服是"


def test_unreachable_server_is_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(LLMServerError, match="Cannot reach"):
        OpenAIBackend(f"http://127.0.0.1:{port}")


def test_api_base_adds_v1_only_to_bare_hosts():
    assert api_base("http://127.0.0.1:8000") == "http://127.0.0.1:8000/v1"
    assert api_base("http://127.0.0.1:8000/v1/") == "http://127.0.0.1:8000/v1"
    assert api_base("http://host/api/openai/v1") == "http://host/api/openai/v1"


def test_request_params_follow_seed_002():
    greedy = request_params(GenerationParams(temperature=0.0, top_k=3, repetition_penalty=1.0))
    assert greedy["temperature"] == 0.0 and "extra_body" not in greedy  # extras that are off are not sent
    nucleus = request_params(GenerationParams(temperature=0.5, top_p=0.8, repetition_penalty=1.0))
    assert nucleus["top_p"] == 0.8 and "extra_body" not in nucleus
    top_k = request_params(GenerationParams(temperature=0.5, top_p=0.8, top_k=4, repetition_penalty=1.3))
    assert top_k["top_p"] == 1.0
    assert top_k["extra_body"] == {"top_k": 4, "repetition_penalty": 1.3, "repeat_penalty": 1.3}
