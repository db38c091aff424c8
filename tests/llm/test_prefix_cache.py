"""The per-conversation prefix cache: reused within a conversation, never across."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from llm.prefix_cache import MIN_REUSE_TOKENS, PrefixCache
from llm.types import GenerationParams, Message

SYSTEM: Message = {"role": "system", "content": "You are a helpful assistant. Answer briefly and politely."}


def conversation(history: list[tuple[str, str]], question: str) -> list[Message]:
    messages = [SYSTEM]
    for user, answer in history:
        messages += [{"role": "user", "content": user}, {"role": "assistant", "content": answer}]
    return messages + [{"role": "user", "content": question}]


@pytest.fixture
def greedy() -> GenerationParams:
    return GenerationParams(max_new_tokens=16, temperature=0.0, repetition_penalty=1.0)


@pytest.fixture
def alice_history() -> list[tuple[str, str]]:
    return [("What is the capital of France?", "The capital of France is Paris."),
            ("And of Italy?", "The capital of Italy is Rome.")]


@pytest.fixture
def bob_history() -> list[tuple[str, str]]:
    return [("My favourite colour is green. Remember it.", "I will remember that your favourite colour is green."),
            ("Name a fruit.", "An apple.")]


def test_the_next_turn_reuses_the_conversation_prefix_and_answers_the_same(transformers_smollm2, greedy, alice_history):
    key = "alice\x1fconv-1"
    transformers_smollm2.prefix_cache.clear()
    turn2 = conversation(alice_history, "And of Spain?")
    first = transformers_smollm2.stream(turn2, replace(greedy, cache_key=key))
    answer = "".join(first)
    turn3 = conversation([*alice_history, ("And of Spain?", answer)], "And of Germany?")
    expected = transformers_smollm2.complete(turn3, greedy)

    cached = transformers_smollm2.stream(turn3, replace(greedy, cache_key=key))
    text = "".join(cached)

    assert first.usage.cached_prompt_tokens == 0
    earlier_turns = transformers_smollm2.count_tokens(conversation(alice_history, "")) - 10  # less the empty question
    assert earlier_turns <= cached.usage.cached_prompt_tokens < cached.usage.prompt_tokens
    assert text == expected.text
    assert cached.usage.completion_tokens == expected.usage.completion_tokens


def test_a_cached_prefix_never_leaks_to_another_conversation_or_user(
        transformers_smollm2, greedy, alice_history, bob_history):
    transformers_smollm2.prefix_cache.clear()
    question = "What did I tell you before?"
    alice = conversation(alice_history, question)
    bob = conversation(bob_history, question)
    expected_bob = transformers_smollm2.complete(bob, greedy).text

    "".join(transformers_smollm2.stream(alice, replace(greedy, cache_key="alice\x1fc1")))
    as_bob = transformers_smollm2.stream(bob, replace(greedy, cache_key="bob\x1fc2"))
    bob_text = "".join(as_bob)
    # Same key, different history (e.g. edited turns): only the tokens both share may be reused.
    reused = transformers_smollm2.stream(bob, replace(greedy, cache_key="alice\x1fc1"))
    reused_text = "".join(reused)

    assert as_bob.usage.cached_prompt_tokens == 0
    assert bob_text == expected_bob
    assert reused.usage.cached_prompt_tokens <= transformers_smollm2.count_tokens([SYSTEM]) + 4
    assert reused_text == expected_bob


def test_requests_without_a_key_are_never_cached(transformers_smollm2, greedy, alice_history):
    transformers_smollm2.prefix_cache.clear()
    messages = conversation(alice_history, "And of Spain?")
    transformers_smollm2.complete(messages, greedy)
    again = transformers_smollm2.stream(messages, greedy)
    "".join(again)

    assert len(transformers_smollm2.prefix_cache) == 0
    assert again.usage.cached_prompt_tokens == 0


def kv(tokens: int, layers: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.randn(1, 2, tokens, 4), torch.randn(1, 2, tokens, 4)) for _ in range(layers)]


def test_cache_returns_the_longest_common_prefix_and_keeps_the_last_token_to_compute():
    cache = PrefixCache(max_bytes=10**6)
    tokens = list(range(40))
    cache.store("k", tokens, kv(40))

    assert cache.lookup("k", tokens + [99, 100]) [0] == 40
    assert cache.lookup("k", tokens)[0] == 39
    assert cache.lookup("k", tokens[:30] + [7] * 10)[0] == 30
    assert cache.lookup("k", [5] + tokens[1:]) == (0, None)
    assert cache.lookup("other", tokens) == (0, None)
    assert cache.lookup(None, tokens) == (0, None)


def test_cache_is_bounded_and_drops_the_least_recently_used():
    one = kv(MIN_REUSE_TOKENS)
    size = sum(k.numel() * 4 + v.numel() * 4 for k, v in one)
    cache = PrefixCache(max_bytes=2 * size)
    tokens = list(range(MIN_REUSE_TOKENS + 1))
    cache.store("a", tokens[:-1], kv(MIN_REUSE_TOKENS))
    cache.store("b", tokens[:-1], kv(MIN_REUSE_TOKENS))
    cache.lookup("a", tokens)  # a is now the most recently used
    cache.store("c", tokens[:-1], kv(MIN_REUSE_TOKENS))

    assert cache.nbytes <= 2 * size
    assert cache.lookup("b", tokens) == (0, None)
    assert cache.lookup("a", tokens)[0] == MIN_REUSE_TOKENS
    assert cache.lookup("c", tokens)[0] == MIN_REUSE_TOKENS
