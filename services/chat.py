"""Run or stream a turn for a caller, and keep the conversation: DESIGN.md §1 steps 1 and 6.

``Chat.stream`` loads the conversation (a new one when asked, or after an idle gap),
works out the question (a regenerate's is the stored one) and the earlier turns, and
hands them to the turn itself (rag/turn.py). The ``ChatStream`` it returns stores the
question once the model has accepted the prompt, and the answer exactly once when the
turn ends: at its end, on an error, or when it is closed — the Stop button, a client that
left, or the stream being garbage-collected. A close from another thread while a read
is running leaves the storing to that read, so no thread is needed to finish it.
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass
from typing import Any, Callable, Iterator

from llm.types import ChatBackend, Message
from llm.window import block_aligned_limit
from rag.turn import Passages, Turn, TurnRequest, TurnResult
from rag.types import EmptyQuestion, NothingToRegenerate, SearchFocus, Source
from services.requests import generation_params, turn_request
from settings import Settings
from storage.history import HistoryManager

log = logging.getLogger(__name__)

MAX_HISTORY_MESSAGES = 400  # far more than any history token budget holds (>= 4 tokens a message)


@dataclass
class _Prepared:
    question: str
    turns: list[Message]
    conversation_id: str | None = None
    message_id: str | None = None


class Chat:
    """Turns for callers: ``request`` builds one from a skin's fields, ``stream``/``run`` answer it."""

    def __init__(self, settings: Settings, llm: ChatBackend, passages: Passages, history: HistoryManager,
                 scope: Callable[[str], str | None]) -> None:
        self.settings = settings
        self.llm = llm
        self.passages = passages  # the knowledge base
        self.history = history
        self.scope = scope  # services/access.py: whose documents a user sees

    def request(self, user_id: str, text: str, **fields: Any) -> TurnRequest:
        """A skin's fields plus the settings → one TurnRequest (services/requests.py)."""
        return turn_request(self.settings, user_id, text, **fields)

    def run(self, req: TurnRequest, cancel: threading.Event | None = None) -> TurnResult:
        stream = self.stream(req, cancel)
        for _ in stream:
            pass
        assert stream.result is not None
        return stream.result

    def stream(self, req: TurnRequest, cancel: threading.Event | None = None) -> "ChatStream":
        """The turn's stream; nothing runs until the first delta is read.

        Raises ``ConversationNotFound`` for a foreign or unknown conversation id,
        ``EmptyQuestion`` and ``NothingToRegenerate`` before anything is stored.
        """
        prepared = self._prepare(req)
        turn = Turn(
            self.settings, self.llm, self.passages, req, req.params or generation_params(self.settings),
            question=prepared.question, turns=prepared.turns, owner=self.scope(req.user_id),
            conversation_id=prepared.conversation_id, message_id=prepared.message_id, cancel=cancel,
        )
        return ChatStream(self, turn)

    # --- the conversation around the turn ------------------------------------------------------
    def _prepare(self, req: TurnRequest) -> _Prepared:
        history, question = self.history, req.text.strip()
        conversation_id = None
        if req.persist:
            conversation_id = history.resolve_conversation(req.user_id, req.conversation_id, req.new_conversation).id
            if req.regenerate:
                # The old answer stays until a new one replaces it (_store_answer): a busy
                # model, a refusal or an error leaves the conversation as it was.
                latest = history.get_messages(req.user_id, conversation_id, limit=2)
                questions = [m for m in latest if m.role == "user"]
                if not questions:
                    raise NothingToRegenerate("There is no question to answer again in this conversation.")
                question = questions[-1].content
        if not question:
            raise EmptyQuestion("The question is empty.")
        if req.history is not None:
            turns = [m for m in req.history if m.get("role") in ("user", "assistant")]
        elif conversation_id:
            turns = self._stored_turns(req, conversation_id)
        else:
            turns = []
        return _Prepared(question, turns, conversation_id, str(uuid.uuid4()) if conversation_id else None)

    def _stored_turns(self, req: TurnRequest, conversation_id: str) -> list[Message]:
        """The newest stored messages, never a whole long conversation: only they can fit the
        prompt's history budget. A regenerate leaves out the question and answer it redoes."""
        history = self.history
        if req.history_len >= 0:  # a huge count (any int is valid JSON) reads no more than fits
            limit = min(req.history_len, MAX_HISTORY_MESSAGES) + 2
        else:
            limit = block_aligned_limit(history.count_messages(req.user_id, conversation_id),
                                        MAX_HISTORY_MESSAGES + 2)
        stored = history.get_messages(req.user_id, conversation_id, limit=limit)
        if req.regenerate and stored and stored[-1].role == "assistant":
            stored = stored[:-1]
        if req.regenerate and stored and stored[-1].role == "user":
            stored = stored[:-1]
        if req.history_len >= 0:
            stored = stored[-req.history_len:] if req.history_len else []
        return [{"role": m.role, "content": m.content} for m in stored]

    def _store_question(self, turn: Turn) -> None:
        if turn.req.persist and not turn.req.regenerate and turn.conversation_id:
            self.history.add_message(turn.conversation_id, "user", turn.question)

    def _store_answer(self, turn: Turn) -> None:
        """A stopped or interrupted answer is stored as 'partial'; a regenerated one replaces
        the old answer only when it has text and did not fail."""
        result, req = turn.result, turn.req
        if result is None or not req.persist or not turn.conversation_id:
            return
        cancelled = result.finish_reason == "cancelled"
        store = bool(result.text) or not cancelled
        if store and req.regenerate:
            store = bool(result.text) and not turn.failed
            if store:
                self.history.delete_last_answer(req.user_id, turn.conversation_id)
        if not store:
            return
        params = turn.params
        self.history.add_message(
            turn.conversation_id,
            "assistant",
            result.text,
            message_id=turn.message_id,
            standalone_query=result.standalone_query,
            sources=[source.to_dict() for source in result.sources],
            prompt_tokens=result.prompt_tokens,
            completion_tokens=result.usage.completion_tokens,
            model=self.llm.name,
            params={
                "temperature": params.temperature,
                "top_p": params.top_p,
                "top_k": params.top_k,
                "max_new_tokens": params.max_new_tokens,
                "repetition_penalty": params.repetition_penalty,
                **({"model_answer": result.model_text} if result.model_text else {}),
            },
            status="partial" if cancelled else "complete",
            calculations=result.calculations,
        )


class ChatStream(Iterator[str]):
    """Text deltas of one answer. Ids are known before the first delta, ``sources`` once
    retrieval is done, ``result`` once the stream has ended (stored by then)."""

    def __init__(self, chat: Chat, turn: Turn) -> None:
        self._chat, self._turn = chat, turn
        self._deltas: Iterator[str] | None = None
        self._lock = threading.Lock()  # one read at a time; a close waits for none
        self._closing = False
        self._ended = False
        self.conversation_id = turn.conversation_id
        self.message_id = turn.message_id
        self.result: TurnResult | None = None

    @property
    def cancel(self) -> threading.Event:
        return self._turn.cancel

    @property
    def sources(self) -> list[Source]:
        return self._turn.sources

    @property
    def focus(self) -> SearchFocus | None:
        """The files the question names, once retrieval is done (shown above the sources)."""
        return self._turn.focus

    @property
    def standalone_query(self) -> str:
        return self._turn.standalone

    @property
    def progress(self) -> tuple[int, int] | None:
        """(parts done, parts) while a long file is read part by part for a summary."""
        return self._turn.progress

    @property
    def prompt_messages(self) -> list[Message]:
        """The messages sent to the model (system + context, kept turns, question)."""
        return self._turn.window.messages if self._turn.window else []

    def __iter__(self) -> "ChatStream":
        return self

    def __next__(self) -> str:
        with self._lock:
            delta = self._read()
            if self._closing:  # closed by another thread during this read: finish here
                self._drain()
                raise StopIteration
            return delta

    def start(self) -> None:
        """Retrieve, build the prompt and open the model's stream without reading from it
        (the first read does this by itself)."""
        with self._lock:
            self._start()

    def close(self) -> None:
        """Stop generating (like the Stop button) and store what was written as 'partial'.

        Safe from any thread: when a read is running elsewhere, that read stores it. A
        stream never started stays so: nothing was stored, nothing will be.
        """
        self._turn.cancel.set()
        self._closing = True
        if self._lock.acquire(blocking=False):
            try:
                self._drain()
            finally:
                self._lock.release()

    def __del__(self) -> None:
        if not self._ended and self._deltas is not None:
            try:
                self.close()
            except Exception:  # noqa: BLE001 — never raise from a finalizer
                log.exception("storing an abandoned answer failed")

    # --- under the lock ---------------------------------------------------------------------------
    def _read(self) -> str:
        if self._ended:
            raise StopIteration
        try:
            if self._deltas is None:
                self._start()
            return next(self._deltas)
        except StopIteration:
            self._end()
            raise
        except BaseException:
            if self._deltas is not None:  # else refused before it began: nothing to store
                self._end()
            raise

    def _start(self) -> None:
        if self._deltas is None and not self._ended:
            try:
                self._turn.start()  # busy, too long: raised here, before anything is stored
            except BaseException:
                self._ended = True
                raise
            self._chat._store_question(self._turn)
            self._deltas = self._turn.deltas()

    def _drain(self) -> None:
        """Run a cancelled turn to its end: the model stops at its next token."""
        if self._deltas is None:
            self._ended = True  # never started: nothing was stored, nothing to store
            return
        try:
            while True:
                self._read()
        except StopIteration:
            pass

    def _end(self) -> None:
        if self._ended:
            return
        self._ended = True
        self.result = self._turn.result
        self._chat._store_answer(self._turn)
