"""An answer continued after a calculation (GenerationParams.assistant_prefix) on the real
bundled GGUF: the continuation prefills only what is new — the prompt and the answer so far
come from llama.cpp's KV cache — and goes on from the text it was given."""

from __future__ import annotations

from dataclasses import replace

from llm.types import GenerationParams, collect

QUESTION = [{"role": "system", "content": "You are a helpful assistant. Answer in one sentence."},
            {"role": "user", "content": "Count from one to twenty, in words, separated by commas."}]


def test_a_continuation_reuses_the_kv_of_the_prompt_and_the_answer_so_far(bundled_backend):
    params = GenerationParams(max_new_tokens=12, temperature=0.0, repetition_penalty=1.0,
                              cache_key="u\x1fturn\x1fcontinuation-test")
    first = collect(bundled_backend.stream(QUESTION, params))
    assert first.text
    prefix = first.text + " = 42"
    second = collect(bundled_backend.stream(QUESTION, replace(params, assistant_prefix=prefix)))
    prompt_alone = bundled_backend.count_tokens(QUESTION)
    assert second.usage.prompt_tokens > prompt_alone  # the answer so far is part of the prompt
    # everything but the few tokens of the written result (and the boundary token) came from the KV cache
    fresh = second.usage.prompt_tokens - second.usage.cached_prompt_tokens
    assert second.usage.cached_prompt_tokens >= prompt_alone and fresh <= 6, (second.usage, fresh)


def test_without_the_same_key_nothing_is_reused(bundled_backend):
    params = GenerationParams(max_new_tokens=8, temperature=0.0, repetition_penalty=1.0, cache_key="u\x1fa")
    first = collect(bundled_backend.stream(QUESTION, params))
    other = collect(bundled_backend.stream(QUESTION, replace(params, cache_key="u\x1fb",
                                                               assistant_prefix=first.text + " = 42")))
    assert other.usage.cached_prompt_tokens == 0


def test_the_continuation_goes_on_from_the_given_text(bundled_backend):
    params = GenerationParams(max_new_tokens=6, temperature=0.0, repetition_penalty=1.0, cache_key="u\x1fc")
    whole = collect(bundled_backend.stream(QUESTION, params)).text
    head = whole[: whole.rfind(" ", 0, len(whole) // 2 + 1)]  # cut before a word: the same tokens
    assert head
    rest = collect(bundled_backend.stream(QUESTION, replace(params, assistant_prefix=head))).text
    # greedy: continuing the first words gives the rest of the same answer
    assert (head + rest)[: len(whole)] == whole[: len(head + rest)], (whole, head, rest)
