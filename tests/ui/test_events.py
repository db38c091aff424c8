"""The pure parts of the UI events: what a click turns into, without a browser."""

from __future__ import annotations

from types import SimpleNamespace

import gradio as gr
import pytest

from services.chat import Chat
from settings import Settings
from ui import chat_events
from ui.conversation_events import export_filename


@pytest.fixture
def services(tmp_path):
    settings = Settings(data_dir=tmp_path, repetition_penalty=1.2)
    # Only Chat.request is used: no model, index or storage is touched.
    chat = Chat(settings, llm=object(), passages=object(), history=object(), scope=lambda user: None)
    return SimpleNamespace(settings=settings, chat=chat)


def controls(**overrides):
    values = dict(
        use_rag=True, document_ids=[], temperature=0.7, top_p=0.9, top_k=5.0, max_new_tokens=64.0,
        retrieval_k=3.0, history_budget=512.0, system_prompt="  ",
    )
    values.update(overrides)
    return list(values.values())


def test_settings_accordion_becomes_the_turn_request(services):
    req = chat_events.turn_request(services, "u1", "hi", "c1", False, *controls())
    assert (req.user_id, req.text, req.conversation_id, req.new_conversation) == ("u1", "hi", "c1", False)
    assert (req.params.temperature, req.params.top_p, req.params.top_k, req.params.max_new_tokens) == (0.7, 0.9, 5, 64)
    assert req.params.repetition_penalty == 1.2  # not on screen: the server's setting
    assert (req.k, req.history_token_budget) == (3, 512)
    assert req.document_ids is None  # nothing ticked: all documents
    assert req.system_prompt is None  # blank: the server's prompt


def test_no_open_conversation_starts_a_new_one(services):
    req = chat_events.turn_request(services, "u1", "hi", None, False, *controls(document_ids=["d1"]))
    assert req.new_conversation and req.document_ids == ["d1"]


@pytest.mark.parametrize("text", ["", "   ", "\n\t", None])
def test_an_empty_question_is_not_sent(text):
    shown = [{"role": "user", "content": "earlier"}, {"role": "assistant", "content": "reply"}]
    chatbot, box, pending, send = chat_events.add_question(text, list(shown))
    assert pending is None  # nothing reaches the model
    # the chat, the input box and #send are left exactly as they were
    assert chatbot == box == send == gr.skip()


def test_a_question_is_shown_at_once_and_the_box_cleared():
    chatbot, box, pending, send = chat_events.add_question(" hello ", [])
    assert chatbot == [{"role": "user", "content": "hello"}] and box == ""
    assert pending == (chat_events.ASK, "hello")


def test_regenerate_keeps_the_old_answer_on_screen_until_a_new_one_starts():
    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    shown, pending, _ = chat_events.prepare_regenerate(history)
    assert shown == gr.skip() and pending == (chat_events.REGENERATE, "")
    assert chat_events.without_last_answer(history) == [{"role": "user", "content": "q"}]


def test_a_regenerate_that_fails_to_start_leaves_the_old_answer(services):
    """The pipeline refuses the turn (here: no real model behind it): the screen keeps the answer."""
    import threading

    history = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "the old answer"}]
    stream = chat_events.make_stream_answer(services)
    outputs = list(stream((chat_events.REGENERATE, ""), history, "u1", None, threading.Event(),
                          threading.Lock(), None, *controls()))
    assert all(out[0] == gr.skip() or out[0] == history for out in outputs)


def test_export_file_name_is_safe_and_keeps_unicode():
    assert export_filename("Notes on 汉服?", "md") == "Notes-on-汉服.md"
    assert export_filename("../../etc/passwd", "json") == "etc-passwd.json"
    assert export_filename("???", "md") == "conversation.md"


def test_while_starting_shows_a_summarys_progress_and_raises_its_errors():
    import time

    from ui.chat_events import _while_starting

    class Stream:
        progress = None

        def __init__(self, fail=False):
            self.fail = fail

        def start(self):
            for done in range(3):
                self.progress = (done, 2)
                time.sleep(0.05)
            if self.fail:
                raise RuntimeError("model busy")

    seen = list(_while_starting(Stream(), poll_s=0.01))  # a busy machine may poll past a step
    assert seen[-1] == (2, 2) and seen == sorted(set(seen))
    with pytest.raises(RuntimeError, match="model busy"):
        list(_while_starting(Stream(fail=True), poll_s=0.01))
