"""The local transformers backend on the real bundled SmolLM2 model."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from llm.transformers_backend import display_name, sampling_kwargs
from llm.types import BackendBusy, GenerationParams, Message


@pytest.fixture
def capital_question() -> list[Message]:
    return [{"role": "system", "content": "You are a helpful assistant."},
            {"role": "user", "content": "What is the capital of France?"}]


@pytest.fixture
def story_request() -> list[Message]:
    return [{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]


def test_backend_describes_itself(transformers_smollm2):
    assert transformers_smollm2.name == "SmolLM2-135M-Instruct (GGUF Q4_1)"
    assert transformers_smollm2.device == "cpu"
    assert transformers_smollm2.context_window == 8192


def test_stream_yields_the_answer_in_pieces(transformers_smollm2, capital_question, greedy):
    stream = transformers_smollm2.stream(capital_question, greedy)
    pieces = list(stream)

    assert len(pieces) > 1
    assert "Paris" in "".join(pieces)
    assert "<|im_end|>" not in "".join(pieces) and "assistant" not in "".join(pieces)
    assert stream.usage.prompt_tokens == transformers_smollm2.count_tokens(capital_question)
    assert 0 < stream.usage.completion_tokens <= greedy.max_new_tokens
    assert stream.usage.finish_reason == "stop"


def test_greedy_answers_are_deterministic(transformers_smollm2, capital_question, greedy):
    first = transformers_smollm2.complete(capital_question, greedy)
    second = transformers_smollm2.complete(capital_question, greedy)

    assert first.text == second.text
    assert first.usage == second.usage


def test_sampling_still_answers(transformers_smollm2, capital_question):
    params = GenerationParams(max_new_tokens=16, temperature=0.8, top_k=5)
    assert transformers_smollm2.complete(capital_question, params).text.strip()


def test_max_new_tokens_ends_with_length(transformers_smollm2, story_request):
    completion = transformers_smollm2.complete(story_request, GenerationParams(max_new_tokens=5, temperature=0.0))

    assert completion.usage.completion_tokens == 5
    assert completion.usage.finish_reason == "length"


def test_stop_string_trims_and_ends_the_answer(transformers_smollm2, story_request, greedy):
    reference = transformers_smollm2.complete(story_request, greedy).text
    stop_word = reference.split()[3]
    completion = transformers_smollm2.complete(story_request, replace(greedy, stop=(stop_word,)))

    assert completion.text == reference[: reference.index(stop_word)]
    assert completion.usage.finish_reason == "stop"
    assert completion.usage.completion_tokens < greedy.max_new_tokens


def test_cancel_stops_generation_and_frees_the_model(transformers_smollm2, story_request, capital_question, greedy):
    cancel = threading.Event()
    stream = transformers_smollm2.stream(story_request, GenerationParams(max_new_tokens=400, temperature=0.0), cancel)
    received = []
    for piece in stream:
        received.append(piece)
        if len(received) == 3:
            cancel.set()

    assert stream.usage.finish_reason == "cancelled"
    assert stream.usage.completion_tokens < 20
    after = transformers_smollm2.complete(capital_question, greedy)
    assert "Paris" in after.text


def test_a_reader_that_goes_away_frees_the_model(transformers_smollm2, story_request, capital_question, greedy):
    stream = transformers_smollm2.stream(story_request, GenerationParams(max_new_tokens=400, temperature=0.0))
    next(stream)
    usage = stream.usage
    del stream  # e.g. the HTTP client disconnected

    # The next request is served only once the model is free: by then the abandoned
    # generation has ended, far short of its 400 tokens.
    assert "Paris" in transformers_smollm2.complete(capital_question, greedy).text
    assert 0 < usage.completion_tokens < 20
    assert usage.finish_reason == "cancelled"


def test_a_character_cut_by_the_token_limit_is_not_shown_half(transformers_smollm2):
    """A byte-level token limit can end inside a multibyte character: no '\ufffd' at the end."""
    from llm.transformers_backend import _Detokenizer

    tokenizer = transformers_smollm2.tokenizer
    ids = tokenizer.encode("数字金融", add_special_tokens=False)
    cut = next(n for n in range(1, len(ids)) if tokenizer.decode(ids[:n]).endswith("\ufffd"))
    text = _Detokenizer(tokenizer)
    shown = "".join(text.add(token) for token in ids[:cut]) + text.flush()
    assert "\ufffd" not in shown and "数字金融".startswith(shown)


def test_request_cancelled_while_waiting_never_runs(transformers_smollm2, story_request, capital_question):
    hold = threading.Event()
    running = transformers_smollm2.stream(story_request, GenerationParams(max_new_tokens=400, temperature=0.0), hold)
    next(running)  # the model is now busy with the first request
    cancelled = threading.Event()
    cancelled.set()
    waiting = transformers_smollm2.stream(capital_question, GenerationParams(max_new_tokens=8), cancelled)
    hold.set()
    list(running)

    assert list(waiting) == []
    assert waiting.usage.finish_reason == "cancelled"


@pytest.fixture(scope="module")
def no_queue_backend():
    """The bundled model with room for one answer and none to wait: its own instance, the shared one is left alone."""
    from llm.model_paths import bundled_chat_model
    from llm.transformers_backend import TransformersBackend

    folder, gguf = bundled_chat_model()
    return TransformersBackend(folder, gguf_file=gguf, device="cpu", max_queue=0, max_batch=1)


def test_full_queue_answers_busy(no_queue_backend, story_request, capital_question, greedy):
    hold = threading.Event()
    running = no_queue_backend.stream(story_request, GenerationParams(max_new_tokens=400, temperature=0.0), hold)
    next(running)
    try:
        with pytest.raises(BackendBusy):
            no_queue_backend.stream(capital_question, GenerationParams(max_new_tokens=8))
    finally:
        hold.set()
        list(running)
    # once the running answer is over, the next request is served again
    assert "Paris" in no_queue_backend.complete(capital_question, greedy).text


def test_two_threads_get_the_same_answer_as_one(transformers_smollm2, capital_question, greedy):
    expected = transformers_smollm2.complete(capital_question, greedy).text
    answers: list[str] = []

    def ask() -> None:
        answers.append(transformers_smollm2.complete(capital_question, greedy).text)

    threads = [threading.Thread(target=ask) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert answers == [expected, expected]


def test_counts_and_truncates_text(transformers_smollm2):
    text = "汉服是汉族的传统服饰。Hanfu is the traditional dress of the Han people."
    cut = transformers_smollm2.truncate_text(text, 6)

    assert transformers_smollm2.count_text_tokens(text) > 6
    assert text.startswith(cut) and cut
    assert transformers_smollm2.count_text_tokens(cut) <= 6
    assert transformers_smollm2.truncate_text(text, 1000) == text


def test_sampling_kwargs_follow_seed_002():
    assert sampling_kwargs(GenerationParams(temperature=0.0, repetition_penalty=1.0)) == {"repetition_penalty": 1.0, "do_sample": False}
    assert sampling_kwargs(GenerationParams(temperature=0.6, top_k=5, top_p=0.9, repetition_penalty=1.0)) == {
        "repetition_penalty": 1.0, "do_sample": True, "temperature": 0.6, "top_k": 5, "top_p": 1.0}
    assert sampling_kwargs(GenerationParams(temperature=0.6, top_p=0.0, repetition_penalty=1.1)) == {
        "repetition_penalty": 1.1, "do_sample": True, "temperature": 0.6, "top_k": 0, "top_p": 1.0}


def test_display_name():
    assert display_name("/x", "SmolLM2-135M-Instruct.Q4_1.gguf", None) == "SmolLM2-135M-Instruct (GGUF Q4_1)"
    assert display_name("Qwen/Qwen2.5-3B-Instruct", None, "bfloat16") == "Qwen2.5-3B-Instruct (bfloat16)"


def test_converted_gguf_is_cached_and_answers_the_same(transformers_smollm2):
    """The second load of a GGUF model reads the cached conversion, not the GGUF file."""
    from llm.model_paths import bundled_chat_model
    from llm.transformers_backend import TransformersBackend, gguf_cache_dir

    folder, gguf = bundled_chat_model()
    cache = gguf_cache_dir(str(folder), gguf)
    assert (cache / "config.json").is_file() and (cache / "model.safetensors").is_file()
    again = TransformersBackend(folder, gguf_file=gguf)
    question = [{"role": "user", "content": "Name one planet."}]
    params = GenerationParams(max_new_tokens=8, temperature=0.0)
    assert again.complete(question, params).text == transformers_smollm2.complete(question, params).text
    assert again.count_tokens(question) == transformers_smollm2.count_tokens(question)
