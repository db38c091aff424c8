"""Speculative decoding in the llama.cpp backend: the same text, fewer forward passes.

The drafter's n-gram lookup is pure logic; everything else runs the real bundled GGUFs:
SmolLM2-135M for the backend's contracts (cancel, KV reuse, continuing an answer), the
bundled Qwen2.5-Coder-0.5B on a docchat-shaped prompt for the text a user would get.

One thread: with flash attention a token's logits are then bit for bit the same in a batch
as alone. With two, llama.cpp splits a one-token pass across the threads differently from a
batch and the logits differ in the last bits (up to ~0.7 in a logit on SmolLM2 at a
1,500-token context), so the text can differ where two tokens nearly tie.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

from llm.llamacpp_backend import LlamaCppBackend
from llm.model_paths import bundled_chat_model
from llm.speculation import PromptLookup, lookup, make_drafter
from llm.types import GenerationParams
from rag.prompting import build_system_prompt, format_context, question_with_reminder
from rag.types import Source

COPY = [{"role": "system", "content": "You repeat text exactly."},
        {"role": "user", "content": "Repeat this list exactly: alpha beta gamma delta epsilon zeta eta theta iota "
                                    "kappa lambda mu, then the same list again."}]
COUNT = [{"role": "user", "content": "Count from 1 to 200, separated by commas."}]
STORY = [{"role": "user", "content": "Write a one-sentence story about a fox."}]


def _greedy(n: int = 48, **kw) -> GenerationParams:
    return GenerationParams(max_new_tokens=n, temperature=0.0, repetition_penalty=1.0, **kw)


def _smollm2() -> str:
    folder, gguf = bundled_chat_model()
    return str(folder / gguf)


@pytest.fixture(scope="module")
def plain() -> LlamaCppBackend:
    return LlamaCppBackend(_smollm2(), threads=1, speculation="off")


@pytest.fixture(scope="module")
def lookup_backend() -> LlamaCppBackend:
    return LlamaCppBackend(_smollm2(), threads=1, speculation="prompt-lookup")


def _run(backend: LlamaCppBackend, messages: list, params: GenerationParams, cancel=None):
    stream = backend.stream(messages, params, cancel)
    return "".join(stream), stream.usage


# --- the drafter ------------------------------------------------------------------------


def test_lookup_drafts_what_followed_the_latest_occurrence():
    context = np.array([5, 1, 2, 7, 8, 1, 2, 3, 4, 9, 1, 2])
    assert lookup(context, max_ngram=2, n=3) == [3, 4, 9]  # after the later "1 2", not the first


def test_lookup_prefers_the_longest_ngram_and_drafts_nothing_unseen():
    context = np.array([1, 2, 3, 7, 9, 2, 8, 8, 1, 2])
    assert lookup(context, max_ngram=2, n=2) == [3, 7]  # "1 2" seen once beats the later lone "2"
    assert lookup(context, max_ngram=1, n=2) == [8, 8]
    assert lookup(np.array([1, 2, 3]), max_ngram=3, n=4) == []
    assert PromptLookup(num_pred_tokens=3).draft(np.array([4, 5, 6, 4]), limit=1) == [5]


def test_speculation_choices_are_checked():
    assert make_drafter("off") is None
    with pytest.raises(ValueError):
        make_drafter("bigram")


# --- the backend, SmolLM2-135M --------------------------------------------------------------


@pytest.mark.parametrize("messages", [COPY, COUNT, STORY], ids=["copy", "count", "story"])
def test_greedy_text_is_the_same_with_fewer_passes(plain, lookup_backend, messages):
    off_text, off = _run(plain, messages, _greedy(64))
    on_text, on = _run(lookup_backend, messages, _greedy(64))
    assert on_text == off_text
    assert on.completion_tokens == off.completion_tokens and on.finish_reason == off.finish_reason
    assert off.draft_tokens == 0 and off.forward_passes == off.completion_tokens + (off.finish_reason == "stop")
    if messages is not STORY:  # text the model copies: guessed from the prompt, checked in fewer passes
        assert on.accepted_draft_tokens > 0
        assert on.forward_passes < off.forward_passes
    assert on.accepted_draft_tokens <= on.draft_tokens


def test_a_seeded_sampled_answer_is_the_same_too(plain, lookup_backend):
    params = GenerationParams(max_new_tokens=48, temperature=0.7, top_p=0.95, repetition_penalty=1.1, seed=11)
    off_text, _ = _run(plain, COPY, params)
    on_text, on = _run(lookup_backend, COPY, params)
    assert on_text == off_text
    assert on.draft_tokens > 0  # sampling speculates as well


def test_stop_mid_answer_frees_the_model_and_leaves_its_kv_sound(plain, lookup_backend):
    key = "u\x1fstop-mid-answer"
    cancel = threading.Event()
    stream = lookup_backend.stream(COUNT, _greedy(400, cache_key=key), cancel)
    next(stream)
    cancel.set()
    list(stream)
    assert stream.usage.finish_reason == "cancelled"
    assert stream.usage.completion_tokens < 400
    # the worker is free, and the same conversation's next request reuses a KV cache that
    # holds only checked tokens: its answer is the one a fresh context gives
    follow = COUNT + [{"role": "assistant", "content": "1, 2, 3"}, {"role": "user", "content": "Go on from 3."}]
    text, usage = _run(lookup_backend, follow, _greedy(24, cache_key=key))
    assert usage.finish_reason in ("length", "stop") and usage.cached_prompt_tokens > 0
    assert text == _run(plain, follow, _greedy(24))[0]


def test_a_stop_string_ends_the_answer_with_speculation(plain, lookup_backend):
    full = _run(plain, COUNT, _greedy(40))[0]
    text, usage = _run(lookup_backend, COUNT, _greedy(40, stop=("7",)))
    assert "7" not in text and full.startswith(text.rstrip())
    assert usage.finish_reason == "stop"


def test_follow_up_turns_reuse_the_kv_and_answer_the_same(plain, lookup_backend):
    key = "u\x1fspeculation-follow-up"
    first = COPY
    answer, u1 = _run(lookup_backend, first, _greedy(32, cache_key=key))
    second = first + [{"role": "assistant", "content": answer}, {"role": "user", "content": "Now only the first three."}]
    text, u2 = _run(lookup_backend, second, _greedy(32, cache_key=key))
    assert u2.cached_prompt_tokens >= u1.prompt_tokens - 2
    assert text == _run(plain, second, _greedy(32))[0]
    # another conversation in between: this one's state is saved, restored, and still right
    _run(lookup_backend, STORY, _greedy(8, cache_key="u\x1fother"))
    again, u3 = _run(lookup_backend, second, _greedy(32, cache_key=key))
    assert again == text and u3.cached_prompt_tokens >= u2.prompt_tokens - 2


def test_continuing_an_answer_prefills_only_the_new_tokens(plain, lookup_backend):
    """The calculator's loop: stop at a marker, then send the same conversation again with the
    answer so far as ``assistant_prefix``."""
    key = "u\x1fcontinue"
    begun, u1 = _run(lookup_backend, COPY, _greedy(48, cache_key=key, stop=("delta",)))
    assert u1.finish_reason == "stop"
    prefix = begun + "delta = 4."
    text, u2 = _run(lookup_backend, COPY, _greedy(32, cache_key=key, assistant_prefix=prefix))
    added = lookup_backend.count_text_tokens("delta = 4.")
    assert u2.cached_prompt_tokens >= u1.prompt_tokens
    assert u2.prompt_tokens - u2.cached_prompt_tokens <= added + 3
    assert text == _run(plain, COPY, _greedy(32, assistant_prefix=prefix))[0]


def test_guesses_that_keep_missing_shrink_to_one_a_pass(plain, lookup_backend):
    class Wrong:
        def draft(self, context, limit):
            return [int(context[-1])] * limit  # the last token again and again: nearly always wrong

    saved, lookup_backend.drafter = lookup_backend.drafter, Wrong()
    try:
        text, usage = _run(lookup_backend, STORY, _greedy(40))
    finally:
        lookup_backend.drafter = saved
    assert text == _run(plain, STORY, _greedy(40))[0]
    assert usage.draft_tokens <= usage.forward_passes + 12  # 4, 3, 2, then about one a pass


def test_a_draft_model_gives_the_same_text(plain):
    """The draft-model adapter, here with the 135M drafting for itself (same tokenizer)."""
    drafted = LlamaCppBackend(_smollm2(), threads=1, speculation="draft-model", draft_model_path=_smollm2())
    text, usage = _run(drafted, COPY, _greedy(48))
    assert text == _run(plain, COPY, _greedy(48))[0]
    assert usage.accepted_draft_tokens > 0.8 * usage.draft_tokens > 0  # it guesses its own tokens


def test_the_setting_reaches_the_backend():
    from llm.factory import make_backend
    from settings import Settings

    backend = make_backend(Settings(model="smollm2", speculation="prompt-lookup", llm_threads=1))
    assert backend.speculation == "prompt-lookup"
    # a draft model only drafts for the 1.5B (the 0.5B of the same family); others decode plainly
    assert make_backend(Settings(model="smollm2", speculation="draft-model", llm_threads=1)).speculation == "off"


# --- a docchat prompt on the bundled Qwen2.5-Coder-0.5B ---------------------------------


PASSAGES = [
    "Harbor Lamp Company annual report 2023. Net sales were $48.2 million in fiscal 2023, up from $41.7 "
    "million in fiscal 2022, an increase of 15.6%. Operating income was $6.1 million.",
    "Consolidated statements of operations (in millions): Net sales 48.2 41.7; Cost of sales 30.9 27.3; "
    "Gross profit 17.3 14.4; Operating expenses 11.2 10.1; Operating income 6.1 4.3.",
    "Employees and sites. Harbor Lamp Company employs 212 people at two factories, in Portland and Halifax.",
]


@pytest.mark.slow
def test_a_rag_answer_on_qwen_is_the_same_and_takes_fewer_passes():
    from llm.model_paths import resolve_chat_model

    choice = resolve_chat_model("qwen2.5-0.5b", "cpu")
    sources = [Source(document_id="d", filename="harbor.pdf", page=i + 1, text=t, score=1.0)
               for i, t in enumerate(PASSAGES)]
    question = "What were net sales, gross profit and operating income in fiscal 2023 and 2022?"
    messages = [{"role": "system", "content": build_system_prompt("You are docchat.", question, sources)
                 + "\n\n" + format_context(sources)},
                {"role": "user", "content": question_with_reminder(question, sources)}]
    texts, usages = {}, {}
    for choice_name in ("off", "prompt-lookup"):
        backend = LlamaCppBackend(choice.gguf_path, speculation=choice_name, threads=1)
        texts[choice_name], usages[choice_name] = _run(backend, messages, _greedy(96))
        del backend
    assert texts["prompt-lookup"] == texts["off"]
    assert "48.2" in texts["off"]
    assert usages["prompt-lookup"].forward_passes < usages["off"].forward_passes
