"""Send, stream, stop and regenerate: the chat column's behaviour.

A turn is two steps, like Gradio's streaming-chatbot demo: ``add_question`` shows the
question and clears the box at once, then ``stream_answer`` (a generator) grows the
answer delta by delta from ``services.chat.stream``. Stop sets the tab's cancel event,
which ends generation at the next token; the chat stream stores what was written as a
'partial' answer (also when Gradio drops the job).
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Iterator

import gradio as gr

from rag.types import TurnRequest
from ui import errors, formatting, source_viewer
from ui.conversation_events import conversation_list
from ui.i18n import t
from ui.language import request_language
from ui.layout import Layout

log = logging.getLogger(__name__)

# The pending turn kept between the two steps: ("ask", question) or ("regenerate", "").
ASK, REGENERATE = "ask", "regenerate"


def turn_request(
    services: Any,
    user_id: str,
    text: str,
    conversation_id: str | None,
    regenerate: bool,
    use_rag: bool,
    document_ids: list[str] | None,
    temperature: float,
    top_p: float,
    top_k: float,
    max_new_tokens: float,
    retrieval_k: float,
    history_budget: float,
    system_prompt: str,
) -> TurnRequest:
    """The settings accordion's values → one TurnRequest (no conversation id = a new chat)."""
    return services.chat.request(
        user_id,
        text,
        temperature=float(temperature),
        top_p=float(top_p),
        top_k=int(top_k),
        max_new_tokens=int(max_new_tokens),
        conversation_id=conversation_id,
        new_conversation=conversation_id is None,
        use_rag=bool(use_rag),
        document_ids=list(document_ids) if document_ids else None,
        k=int(retrieval_k),
        history_token_budget=int(history_budget),
        system_prompt=(system_prompt or "").strip() or None,
        regenerate=regenerate,
    )


def add_question(text: str, history: list) -> tuple:
    """Show the question right away, empty the input, and hold #send until the answer is in."""
    text = (text or "").strip()
    if not text:
        return gr.skip(), gr.skip(), None, gr.skip()
    return [*history, {"role": "user", "content": text}], "", (ASK, text), gr.update(interactive=False)


def prepare_regenerate(history: list, request: gr.Request = None) -> tuple:
    """Ask for a new last answer. The old one stays on screen until the new one starts
    (``stream_answer``), so a busy model or a failed turn never leaves a gap."""
    history = list(history or [])
    if not any(m.get("role") == "user" for m in history):
        lang = request_language(request)
        errors.warning_toast(t(lang, "no_regenerate"), lang)
        return gr.skip(), None, gr.skip()
    return gr.skip(), (REGENERATE, ""), gr.update(interactive=False)


def without_last_answer(history: list) -> list:
    """The chat up to and including the last question: what a regenerated answer follows."""
    history = list(history)
    while history and history[-1].get("role") == "assistant":
        history.pop()
    return history


def make_stream_answer(services: Any):
    """The generator behind a turn, bound to the shared services."""

    def stream_answer(
        pending: tuple[str, str] | None,
        history: list,
        user_id: str,
        conversation_id: str | None,
        cancel: threading.Event,
        turn_lock: threading.Lock,
        request: gr.Request,  # (Gradio fills it in) the tab's language for toasts and sources
        *controls: Any,
    ) -> Iterator[tuple]:
        if pending is None or not user_id:
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        lang = request_language(request)
        history = list(history or [])
        if not turn_lock.acquire(blocking=False):
            errors.warning_toast(t(lang, "still_answering"), lang)
            yield (history[:-1] if pending[0] == ASK else gr.skip()), gr.skip(), gr.skip(), gr.skip()
            return
        try:
            yield from _answer(pending, history, user_id, conversation_id, cancel, controls, lang)
        finally:
            turn_lock.release()

    def _answer(pending, history, user_id, conversation_id, cancel, controls, lang) -> Iterator[tuple]:
        kind, text = pending
        regenerate = kind == REGENERATE
        shown = history  # on screen until the new answer has text (for a regenerate: the old answer)
        if regenerate:
            history = without_last_answer(history)
            if history:
                text = formatting.message_text(history[-1]["content"])
        cancel.clear()
        try:
            req = turn_request(services, user_id, text, conversation_id, regenerate, *controls)
            stream = services.chat.stream(req, cancel)
        except Exception as exc:  # noqa: BLE001 — shown as a toast, logged with its trace
            errors.warn(exc, "starting a turn", lang)
            yield gr.skip(), gr.skip(), gr.skip(), gr.skip()
            return
        conversation_id = stream.conversation_id
        yield gr.skip(), conversation_id, gr.skip(), conversation_list(services, user_id, conversation_id, lang)

        answer = {"role": "assistant", "content": ""}
        history.append(answer)
        parts: list[str] = []
        try:
            for done, total in _while_starting(stream):  # a long summary reads its file first
                answer["content"] = t(lang, "summarising", done=done, total=total)
                yield history, gr.skip(), gr.skip(), gr.skip()
            for delta in stream:
                if not parts:  # retrieval is done: its sources are the ones cited
                    notes = source_viewer.turn_notes_html(stream.focus, lang=lang)
                    sources = source_viewer.sources_html(stream.sources, lang=lang, notes=notes)
                else:
                    sources = gr.skip()
                parts.append(delta)
                answer["content"] = formatting.safe_markdown("".join(parts))
                yield history, gr.skip(), sources, gr.skip()
        except Exception as exc:  # noqa: BLE001
            errors.warn(exc, "generating an answer", lang)
        finally:  # Gradio dropped the job (#stop): the partial answer is stored now
            stream.close()
        result = stream.result
        if result is not None:
            answer["content"] = formatting.safe_markdown(result.text)
            if result.finish_reason == "cancelled":
                log.info("answer %s stopped after %d characters", result.message_id, len(result.text))
            notes = source_viewer.turn_notes_html(result.focus, result.replaced, lang, result.unaccounted,
                                                  computed=result.stated_by_code)
            sources = source_viewer.sources_html(result.sources, lang=lang, notes=notes,
                                                 calculations=result.calculations)
        else:
            sources = gr.skip()
        if not answer["content"]:
            history = shown  # nothing new to show: a regenerated answer's predecessor stays
        yield history, gr.skip(), sources, conversation_list(services, user_id, conversation_id, lang)

    return stream_answer


def _while_starting(stream: Any, poll_s: float = 0.5) -> Iterator[tuple[int, int]]:
    """Start ``stream`` (retrieval, prompt) in a thread; meanwhile yield its progress, if it
    reports any (a summary of a long file, rag/collection.py). Its errors are raised here."""
    failure: list[BaseException] = []

    def start() -> None:
        try:
            stream.start()
        except BaseException as exc:  # noqa: BLE001 — re-raised in the caller's thread
            failure.append(exc)

    worker = threading.Thread(target=start, name="turn-start", daemon=True)
    worker.start()
    shown = None
    while worker.is_alive():
        worker.join(poll_s)
        if stream.progress is not None and stream.progress != shown:
            shown = stream.progress
            yield shown
    if failure:
        raise failure[0]


def stop_generation(cancel: threading.Event | None) -> dict:
    """#stop: the backend sees the event at its next token and frees the model."""
    if cancel is not None:
        cancel.set()
    return enable_send()


def enable_send() -> dict:
    return gr.update(interactive=True)


def wire(ui: Layout, services: Any) -> None:
    """Attach the chat column's events."""
    pending = gr.State(None)
    stream_answer = make_stream_answer(services)
    answer_inputs = [
        pending, ui.chatbot, ui.user_id, ui.conversation_id, ui.cancel, ui.turn_lock, *ui.generation_controls,
    ]
    answer_outputs = [ui.chatbot, ui.conversation_id, ui.sources, ui.conversations]
    answer_options = dict(
        concurrency_id="chat",
        concurrency_limit=services.settings.max_queue,
        api_visibility="private",
        show_progress="minimal",
    )

    quick = dict(queue=False, api_visibility="private", show_progress="hidden")

    question_inputs = [ui.chat_input, ui.chatbot]
    question_outputs = [ui.chatbot, ui.chat_input, pending, ui.send]
    streams = []
    for trigger in (ui.chat_input.submit, ui.send.click):
        streams.append(
            trigger(add_question, question_inputs, question_outputs, **quick)
            .then(stream_answer, answer_inputs, answer_outputs, **answer_options)
        )
    streams.append(
        ui.regenerate.click(prepare_regenerate, [ui.chatbot], [ui.chatbot, pending, ui.send], **quick)
        .then(stream_answer, answer_inputs, answer_outputs, **answer_options)
    )
    for stream in streams:
        stream.then(enable_send, None, [ui.send], **quick)
    # Stop both ways: the event ends generation in the backend at once; ``cancels`` drops
    # the Gradio job (also one still waiting in the queue). The screen keeps the partial text.
    ui.stop.click(stop_generation, [ui.cancel], [ui.send], cancels=streams, **quick)
