"""Regenerate keeps the previous answer until a new one replaces it (issue 10, item 6).

Real services (SQLite, Chroma, the bundled model): a regenerate that is refused (the
question no longer fits) or busy leaves the stored conversation exactly as it was; one
that succeeds replaces the answer, never adds a second.
"""

from __future__ import annotations

import threading

import pytest

from llm.types import BackendBusy, PromptTooLong
from rag.pipeline import TurnRequest


def _conversation(services, question: str, answer: str) -> str:
    conv = services.history.start_conversation("regen-user")
    services.history.add_message(conv.id, "user", question)
    services.history.add_message(conv.id, "assistant", answer)
    return conv.id


def _contents(services, conversation_id: str) -> list[tuple[str, str]]:
    return [(m.role, m.content) for m in services.history.get_messages("regen-user", conversation_id)]


def test_a_refused_regenerate_keeps_the_old_answer(make_services) -> None:
    services = make_services()
    conversation = _conversation(services, "0123456789" * 3000, "The old answer.")
    before = _contents(services, conversation)
    with pytest.raises(PromptTooLong):
        services.pipeline.run_turn(TurnRequest("regen-user", "", conversation_id=conversation, regenerate=True))
    assert _contents(services, conversation) == before


def test_a_busy_model_keeps_the_old_answer(make_services, bundled_backend) -> None:
    services = make_services()
    conversation = _conversation(services, "What is hanfu?", "The old answer.")
    before = _contents(services, conversation)
    # Hold the model and let nobody wait: the regenerate is refused as busy.
    original_queue = bundled_backend.max_queue
    bundled_backend.max_queue = 0
    stop_holder = threading.Event()
    holder = bundled_backend.stream([{"role": "user", "content": "Count to fifty."}],
                                    services.pipeline.default_params(max_new_tokens=64), stop_holder)
    try:
        with pytest.raises(BackendBusy):
            services.pipeline.run_turn(
                TurnRequest("regen-user", "", conversation_id=conversation, regenerate=True))
    finally:
        stop_holder.set()
        for _ in holder:  # drain: the model lock is released when the generation ends
            pass
        bundled_backend.max_queue = original_queue
    assert _contents(services, conversation) == before


def test_a_successful_regenerate_replaces_the_answer(make_services) -> None:
    services = make_services()
    conversation = _conversation(services, "Say hello.", "The old answer.")
    result = services.pipeline.run_turn(
        TurnRequest("regen-user", "", conversation_id=conversation, regenerate=True,
                    params=services.pipeline.default_params(max_new_tokens=8)))
    after = _contents(services, conversation)
    assert [role for role, _ in after] == ["user", "assistant"]
    assert after[1][1] == result.text and result.text != "The old answer."
