"""Concurrent requests on the bundled model: batched together, each with its own answer."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from llm.types import GenerationParams, Message


def ask(text: str) -> list[Message]:
    return [{"role": "user", "content": text}]


@pytest.fixture
def questions() -> list[list[Message]]:
    return [ask("Write a long story about a dragon who learns to bake bread."),
            ask("Name three planets of the solar system."),
            ask("What is the capital of France?")]


def run_concurrently(backend, jobs) -> list:
    """Start every (messages, params, cancel) stream at once; return each one's (text, usage)."""
    streams = [backend.stream(m, p, c) for m, p, c in jobs]
    results: list = [None] * len(streams)

    def read(i: int) -> None:
        results[i] = ("".join(streams[i]), streams[i].usage)

    threads = [threading.Thread(target=read, args=(i,)) for i in range(len(streams))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_streams_each_get_their_own_answer_with_their_own_params(transformers_smollm2, questions):
    params = [GenerationParams(max_new_tokens=20, temperature=0.0, repetition_penalty=1.0),
              GenerationParams(max_new_tokens=7, temperature=0.0, repetition_penalty=1.3),
              GenerationParams(max_new_tokens=24, temperature=0.0, repetition_penalty=1.0)]
    alone = [transformers_smollm2.complete(m, p) for m, p in zip(questions, params)]
    stop_word = alone[0].text.split()[4]
    params[0] = replace(params[0], stop=(stop_word,))

    together = run_concurrently(transformers_smollm2, [(m, p, None) for m, p in zip(questions, params)])

    assert together[0][0] == alone[0].text[: alone[0].text.index(stop_word)]
    assert together[0][1].finish_reason == "stop"
    assert together[1][0] == alone[1].text
    assert together[1][1].completion_tokens == 7 and together[1][1].finish_reason == "length"
    assert together[2][0] == alone[2].text and "Paris" in together[2][0]
    assert together[2][1] == alone[2].usage


def test_a_second_request_is_answered_while_the_first_still_streams(transformers_smollm2, questions):
    """Served one after the other, the first would have all 80 tokens before the second began."""
    cancel_first = threading.Event()
    first = transformers_smollm2.stream(questions[0], GenerationParams(max_new_tokens=80, temperature=0.0), cancel_first)
    next(first)
    second = transformers_smollm2.stream(questions[2], GenerationParams(max_new_tokens=12, temperature=0.0))
    second_text = "".join(second)
    cancel_first.set()  # the second is complete: stop the first wherever it is
    list(first)

    assert "Paris" in second_text
    assert first.usage.finish_reason == "cancelled"
    assert first.usage.completion_tokens < 60


def test_a_stop_cancels_only_its_own_request(transformers_smollm2, questions):
    greedy = GenerationParams(max_new_tokens=30, temperature=0.0, repetition_penalty=1.0)
    expected = transformers_smollm2.complete(questions[1], greedy).text
    cancel = threading.Event()
    stopped = transformers_smollm2.stream(questions[0], replace(greedy, max_new_tokens=200), cancel)
    other = transformers_smollm2.stream(questions[1], greedy)
    other_pieces: list[str] = []
    reader = threading.Thread(target=lambda: other_pieces.extend(other))
    reader.start()
    received = [next(stopped), next(stopped)]
    cancel.set()
    received.extend(stopped)
    reader.join()

    assert stopped.usage.finish_reason == "cancelled"
    assert stopped.usage.completion_tokens < 40
    assert "".join(other_pieces) == expected
    assert other.usage.finish_reason in ("stop", "length")


def test_sampling_and_greedy_requests_share_a_batch(transformers_smollm2, questions):
    greedy = GenerationParams(max_new_tokens=16, temperature=0.0, repetition_penalty=1.0)
    expected = transformers_smollm2.complete(questions[2], greedy).text
    sampled = GenerationParams(max_new_tokens=16, temperature=1.0, top_k=20)

    results = run_concurrently(transformers_smollm2, [(questions[0], sampled, None), (questions[2], greedy, None),
                                                 (questions[1], sampled, None)])

    assert results[1][0] == expected
    assert results[0][0].strip() and results[2][0].strip()
