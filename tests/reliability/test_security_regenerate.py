"""Regenerate keeps the previous answer until a new one replaces it (issue 10, item 6).

Real services (SQLite, Chroma, the bundled model): a regenerate that is refused (the
question no longer fits) or busy leaves the stored conversation exactly as it was; one
that succeeds replaces the answer, never adds a second.
"""

from __future__ import annotations

import threading

import pytest

from llm.types import BackendBusy, PromptTooLong
from rag.types import TurnRequest


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


@pytest.fixture(scope="module")
def one_slot_backend():
    """The bundled model with room for one answer and none waiting: its own instance."""
    from llm.model_paths import bundled_chat_model
    from llm.transformers_backend import TransformersBackend

    folder, gguf = bundled_chat_model()
    return TransformersBackend(folder, gguf_file=gguf, device="cpu", max_queue=0, max_batch=1)


def test_a_busy_model_keeps_the_old_answer(tmp_path, one_slot_backend, embedder) -> None:
    from services import build_services
    from settings import Settings

    services = build_services(Settings(data_dir=tmp_path / "data"), llm=one_slot_backend, embedder=embedder)
    conversation = _conversation(services, "What is hanfu?", "The old answer.")
    before = _contents(services, conversation)
    # Hold the model and let nobody wait: the regenerate is refused as busy.
    stop_holder = threading.Event()
    holder = one_slot_backend.stream([{"role": "user", "content": "Count to fifty."}],
                                     services.pipeline.default_params(max_new_tokens=64), stop_holder)
    next(holder)  # the holder is decoding: the one batch slot is taken
    try:
        with pytest.raises(BackendBusy):
            services.pipeline.run_turn(
                TurnRequest("regen-user", "", conversation_id=conversation, regenerate=True))
    finally:
        stop_holder.set()
        for _ in holder:
            pass
        assert _contents(services, conversation) == before
        services.close()


def test_a_successful_regenerate_replaces_the_answer(make_services) -> None:
    services = make_services()
    conversation = _conversation(services, "Say hello.", "The old answer.")
    result = services.pipeline.run_turn(
        TurnRequest("regen-user", "", conversation_id=conversation, regenerate=True,
                    params=services.pipeline.default_params(max_new_tokens=8)))
    after = _contents(services, conversation)
    assert [role for role, _ in after] == ["user", "assistant"]
    assert after[1][1] == result.text and result.text != "The old answer."
