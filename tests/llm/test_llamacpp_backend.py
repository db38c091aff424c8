"""The llama.cpp backend against the real bundled GGUF (SmolLM2-135M), generating on this CPU.

The build flags matter here: a native build on a CPU with AMX segfaults on the first decode
(scripts/llama_cmake_args.sh), so these tests are also the check that the wheel is AMX-safe.
"""

from __future__ import annotations

import gc
import threading

import pytest

from llm.llamacpp_backend import LlamaCppBackend
from llm.llamacpp_model import sampling_kwargs
from llm.llamacpp_states import StateCache
from llm.prefix_cache import common_prefix
from llm.model_paths import bundled_chat_model
from llm.types import BackendBusy, GenerationParams, PromptTooLong

COUNT = [{"role": "user", "content": "Count from 1 to 30, separated by commas."}]


def _gguf():
    folder, gguf = bundled_chat_model()
    return folder / gguf


@pytest.fixture(scope="module")
def small_window() -> LlamaCppBackend:
    return LlamaCppBackend(_gguf(), context_window=256, max_queue=0, threads=1)


def _greedy(n: int = 24, **kw) -> GenerationParams:
    return GenerationParams(max_new_tokens=n, temperature=0.0, repetition_penalty=1.0, **kw)


def test_streams_text_with_token_counts(bundled_backend):
    stream = bundled_backend.stream(COUNT, _greedy(16))
    deltas = list(stream)
    assert len(deltas) > 1 and "1" in "".join(deltas)
    assert stream.usage.prompt_tokens == bundled_backend.count_tokens(COUNT)
    assert stream.usage.completion_tokens == 16
    assert stream.usage.finish_reason == "length"


def test_chat_template_and_window_come_from_the_model(bundled_backend, small_window):
    prompt = bundled_backend.render([{"role": "system", "content": "S"}, {"role": "user", "content": "Q"}])
    assert prompt == "<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n"
    assert bundled_backend.context_window == 8192  # SmolLM2's GGUF: llama.context_length
    assert small_window.context_window == 256  # --context-window overrides it
    assert bundled_backend.engine == "llama.cpp"


def test_prompt_longer_than_the_window_is_refused(small_window):
    with pytest.raises(PromptTooLong):
        small_window.stream([{"role": "user", "content": "word " * 400}], _greedy())


def test_stop_string_ends_the_answer_before_it(bundled_backend):
    full = bundled_backend.complete(COUNT, _greedy(30)).text
    assert "5" in full
    stream = bundled_backend.stream(COUNT, _greedy(30, stop=("5",)))
    text = "".join(stream)
    assert "5" not in text and full.startswith(text.rstrip())
    assert stream.usage.finish_reason == "stop"
    assert stream.usage.completion_tokens < 30


def test_cancel_stops_at_once_and_frees_the_model(bundled_backend):
    cancel = threading.Event()
    stream = bundled_backend.stream(COUNT, _greedy(400), cancel)
    next(stream)
    cancel.set()
    rest = list(stream)
    assert len(rest) < 10
    assert stream.usage.finish_reason == "cancelled"
    assert stream.usage.completion_tokens < 20
    after = bundled_backend.complete(COUNT, _greedy(8))  # the model is free again
    assert after.usage.completion_tokens == 8


def test_a_dropped_stream_frees_the_model(bundled_backend):
    stream = bundled_backend.stream(COUNT, _greedy(400))
    next(stream)
    usage = stream.usage
    del stream  # the reader went away: generation stops (counting to 30 runs ~90 tokens otherwise)
    gc.collect()
    assert usage.finish_reason == "cancelled"
    assert usage.completion_tokens < 20
    assert bundled_backend.complete(COUNT, _greedy(4)).usage.completion_tokens == 4


def test_seed_makes_sampling_repeatable_and_different_seeds_differ(bundled_backend):
    story = [{"role": "user", "content": "Write a one-sentence story about a fox."}]

    def sample(seed: int) -> str:
        return bundled_backend.complete(story, GenerationParams(max_new_tokens=24, temperature=1.2, top_p=0.98,
                                                                seed=seed)).text

    assert sample(7) == sample(7)
    assert len({sample(s) for s in (1, 2, 3, 4)}) > 1


def test_top_k_one_is_greedy_whatever_the_temperature(bundled_backend):
    story = [{"role": "user", "content": "Write a one-sentence story about a fox."}]
    greedy = bundled_backend.complete(story, _greedy(20)).text
    for seed in (1, 2):
        params = GenerationParams(max_new_tokens=20, temperature=1.5, top_k=1, repetition_penalty=1.0, seed=seed)
        assert bundled_backend.complete(story, params).text == greedy


def test_repetition_penalty_changes_the_greedy_answer(bundled_backend):
    plain = bundled_backend.complete(COUNT, _greedy(30)).text
    penalised = bundled_backend.complete(COUNT, GenerationParams(max_new_tokens=30, temperature=0.0,
                                                                 repetition_penalty=1.8)).text
    assert plain != penalised


def test_sampling_kwargs_follow_seed_002():
    assert sampling_kwargs(GenerationParams(temperature=0.0))["temp"] == 0.0
    k = sampling_kwargs(GenerationParams(temperature=0.7, top_p=0.9, top_k=5, repetition_penalty=1.1))
    assert (k["top_k"], k["top_p"], k["temp"], k["repeat_penalty"], k["min_p"]) == (5, 1.0, 0.7, 1.1, 0.0)
    k = sampling_kwargs(GenerationParams(temperature=0.7, top_p=0.9, top_k=0))
    assert (k["top_k"], k["top_p"]) == (0, 0.9)


def _turns(n: int) -> list[dict]:
    msgs = [{"role": "system", "content": "You are a helpful assistant. " * 8}]
    for i in range(n):
        msgs += [{"role": "user", "content": f"Question number {i} about topic {i}?"},
                 {"role": "assistant", "content": f"Answer number {i}: it is fine."}]
    return msgs


def test_follow_up_turn_prefills_only_what_changed(bundled_backend):
    key = "u1\x1fconv-follow-up"
    first = _turns(3) + [{"role": "user", "content": "Context and question one?"}]
    s1 = bundled_backend.stream(first, _greedy(8, cache_key=key))
    answer = "".join(s1)
    second = _turns(3) + [{"role": "user", "content": "Context and question one?"},
                          {"role": "assistant", "content": answer},
                          {"role": "user", "content": "Another context and question two?"}]
    s2 = bundled_backend.stream(second, _greedy(8, cache_key=key))
    "".join(s2)
    stable = bundled_backend.count_tokens(_turns(3))  # system + kept history (+ an assistant header)
    assert s2.usage.cached_prompt_tokens >= stable - 8
    ids1 = bundled_backend.encode_chat(first)
    ids2 = bundled_backend.encode_chat(second)
    changed = len(ids2) - common_prefix(ids1, ids2)  # the new turn: question one's answer, question two
    prefilled = s2.usage.prompt_tokens - s2.usage.cached_prompt_tokens
    assert prefilled <= 1.1 * changed


def test_kv_reuse_never_crosses_conversations_or_users(bundled_backend):
    msgs = _turns(2) + [{"role": "user", "content": "Same prompt for everyone?"}]
    a = bundled_backend.stream(msgs, _greedy(4, cache_key="alice\x1fc1"))
    "".join(a)
    for key in ("bob\x1fc1", "alice\x1fc2", None):  # another user, another conversation, no key
        other = bundled_backend.stream(msgs, _greedy(4, cache_key=key))
        "".join(other)
        assert other.usage.cached_prompt_tokens == 0, key
    again = bundled_backend.stream(msgs, _greedy(4, cache_key="alice\x1fc1"))  # restored from the saved states
    "".join(again)
    assert again.usage.cached_prompt_tokens > 0


def test_a_new_conversation_reuses_the_shared_system_prompt_and_nothing_after_it(bundled_backend):
    system = "You are docchat and you answer from the passages of the user's documents only. " * 4
    private = "Alice's passage: the vault code is 4821 and the boat is called Heron. " * 4

    def prompt(question: str) -> list:
        return [{"role": "system", "content": f"{system}\n\n{private}"}, {"role": "user", "content": question}]

    shared = bundled_backend.count_text_tokens(system)
    first = bundled_backend.stream(prompt("What is the vault code?"), _greedy(6, cache_key="alice\x1fs1",
                                                                              shared_prefix=system))
    first_text = "".join(first)
    runs = []
    for key in ("bob\x1fs1", None, "alice\x1fs2"):  # another user, no key, another conversation
        other = bundled_backend.stream(prompt("What is the vault code?"), _greedy(6, cache_key=key,
                                                                                  shared_prefix=system))
        runs.append(("".join(other), other.usage.cached_prompt_tokens))
    for text, cached in runs:
        assert text == first_text  # the restored KV is the right one
        assert shared - 8 <= cached <= shared + 8  # the system prompt, never Alice's passage after it
    unshared = bundled_backend.stream(prompt("What is the vault code?"), _greedy(6, cache_key="carol\x1fs1"))
    "".join(unshared)
    assert unshared.usage.cached_prompt_tokens == 0  # nothing declared shared: nothing reused


def test_a_saved_state_keeps_one_row_of_logits_and_still_restores(bundled_backend):
    llm = bundled_backend._llm
    assert llm.save_state().scores.shape[0] > 1  # what llama-cpp-python copies on its own
    key = "u\x1fsaved-state"
    msgs = _turns(1) + [{"role": "user", "content": "Tell me a colour."}]
    "".join(bundled_backend.stream(msgs, _greedy(4, cache_key=key)))
    "".join(bundled_backend.stream(COUNT, _greedy(4)))  # another sequence: the key's state is saved
    saved = bundled_backend._states.conversations.get(key)
    assert saved is not None and saved.scores.shape == (1, llm.n_vocab())
    again = bundled_backend.stream(msgs, _greedy(4, cache_key=key))  # restored from it
    "".join(again)
    assert again.usage.cached_prompt_tokens >= bundled_backend.count_tokens(msgs) - 2


def test_saved_states_are_bounded_in_memory():
    class State:
        def __init__(self, size: int) -> None:
            self.llama_state_size = size

    cache = StateCache(max_bytes=250)
    for key in "abc":
        cache.put(key, State(100))
    assert len(cache) == 2 and cache.take("a") is None and cache.take("c") is not None
    cache.put("huge", State(1000))
    assert cache.take("huge") is None


def test_busy_when_the_queue_is_full(small_window):
    cancel = threading.Event()
    running = small_window.stream(COUNT, _greedy(200), cancel)
    next(running)
    with pytest.raises(BackendBusy):
        small_window.stream(COUNT, _greedy(4))
    cancel.set()
    list(running)
    assert small_window.complete(COUNT, _greedy(2)).usage.completion_tokens == 2


def test_counting_and_truncating_text(bundled_backend):
    text = "The quick brown fox jumps over the lazy dog. " * 5
    n = bundled_backend.count_text_tokens(text)
    cut = bundled_backend.truncate_text(text, 10)
    assert n > 40 and bundled_backend.count_text_tokens(cut) <= 10 and text.startswith(cut)
    assert bundled_backend.truncate_text("短文本", 50) == "短文本"
