"""One conversational turn, end to end (DESIGN.md §1), and the seed-000 Python API.

load conversation → condense (only with history) → hybrid retrieval → prompt with the
newest turns that fit the token budget → stream from the chat model → persist.
The UI, the HTTP API and Python callers all go through ``ConversationManager``.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Iterator

from access import document_scope
from llm.types import ChatBackend, GenerationParams, Message, Usage
from llm.window import answer_budget, block_aligned_limit, fit_history, system_message
from rag.condense import condense_question, plan_search, retrieval_queries, uses_condense_adapter
from rag.citations import MarkFilter, annotate, mark_numbers
from rag.grounding import is_grounded
from rag.prompting import build_system_prompt, format_context, is_abstention, not_in_docs, question_with_reminder
from rag.types import EmptyQuestion, NothingToRegenerate, Source
from settings import Settings

if TYPE_CHECKING:  # imported lazily: building services loads models
    from rag.knowledge_base import KnowledgeBase
    from storage.history import HistoryManager

log = logging.getLogger(__name__)

PROMPT_NAMES = ("default", "rag", "chat")
MAX_HISTORY_MESSAGES = 400  # far more than any history token budget holds (>= 4 tokens a message)


@dataclass
class TurnRequest:
    """Everything one turn may override; unset fields fall back to the settings."""

    user_id: str
    text: str
    conversation_id: str | None = None
    new_conversation: bool = False
    params: GenerationParams | None = None
    use_rag: bool = True
    document_ids: list[str] | None = None
    k: int | None = None
    history: list[Message] | None = None  # replaces the stored history (seed 003)
    history_len: int = -1  # take that many stored messages; -1 = all that fit
    system_prompt: str | None = None
    prompt_name: str | None = None  # "default" | "rag" | "chat"
    history_token_budget: int | None = None
    persist: bool = True  # False for stateless calls (/v1/chat/completions)
    regenerate: bool = False  # replace the last answer of the conversation


@dataclass
class TurnResult:
    text: str
    message_id: str | None
    conversation_id: str | None
    standalone_query: str
    sources: list[Source] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "standalone_query": self.standalone_query,
            "sources": [s.to_dict() for s in self.sources],
            "finish_reason": self.finish_reason,
            "warnings": list(self.warnings),
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens,
            },
        }


class TurnStream:
    """Text deltas of one answer. Ids are known before the first delta; ``result`` and
    ``sources`` once iteration ends (sources are known as soon as retrieval is done)."""

    def __init__(self, run: "_Turn") -> None:
        self._run = run
        self._gen = run.execute()
        self.conversation_id: str | None = run.conversation_id
        self.message_id: str | None = run.message_id
        self.result: TurnResult | None = None

    @property
    def sources(self) -> list[Source]:
        return self._run.sources

    @property
    def standalone_query(self) -> str:
        return self._run.standalone

    @property
    def prompt_messages(self) -> list[Message]:
        """The messages sent to the model (system + context, kept turns, question)."""
        return self._run.window.messages if self._run.window else []

    def __iter__(self) -> Iterator[str]:
        return self

    def close(self) -> None:
        """Stop generating (like the Stop button) and store what was written as partial.

        Safe to call from another thread than the reader's only via the cancel event;
        here it also drains the stream so the turn is persisted before returning.
        """
        self._run.cancel.set()
        for _ in self:
            pass

    def __next__(self) -> str:
        try:
            return next(self._gen)
        except StopIteration:
            self.result = self._run.result
            raise


class ConversationManager:
    """The turn pipeline; seed 000's ``ConversationManager``.

    ``ConversationManager()`` alone builds the default services (bundled models,
    ``dbcache/``); the app passes the shared ones in.
    """

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        llm: ChatBackend | None = None,
        knowledge_base: "KnowledgeBase | None" = None,
        history: "HistoryManager | None" = None,
    ) -> None:
        if llm is None or knowledge_base is None or history is None:
            from services import build_services

            services = build_services(settings or Settings())
            settings, llm = services.settings, services.llm
            knowledge_base, history = services.knowledge_base, services.history
        self.settings = settings or Settings()
        self.llm = llm
        self.knowledge_base = knowledge_base
        self.history_manager = history

    # --- seed 000 API ---------------------------------------------------------------
    def handle_message(
        self,
        user_id: str,
        text: str,
        conversation_id: str | None = None,
        new_conversation: bool = False,
        **params: Any,
    ) -> str:
        """Answer ``text`` in the user's current conversation and return the reply."""
        return self.run_turn(
            TurnRequest(
                user_id=user_id,
                text=text,
                conversation_id=conversation_id,
                new_conversation=new_conversation,
                params=self.default_params(**params) if params else None,
            )
        ).text

    def stream_message(self, user_id: str, text: str, **kwargs: Any) -> TurnStream:
        """Streaming twin of ``handle_message``."""
        params = {k: kwargs.pop(k) for k in list(kwargs) if k in GenerationParams.__dataclass_fields__}
        return self.stream_turn(
            TurnRequest(user_id=user_id, text=text, params=self.default_params(**params), **kwargs)
        )

    # --- the turn ---------------------------------------------------------------------
    def run_turn(self, req: TurnRequest, cancel: threading.Event | None = None) -> TurnResult:
        stream = self.stream_turn(req, cancel)
        for _ in stream:
            pass
        assert stream.result is not None
        return stream.result

    def stream_turn(self, req: TurnRequest, cancel: threading.Event | None = None) -> TurnStream:
        """Prepare the turn (conversation, stored question) and return its stream.

        Raises ``ConversationNotFound`` for a foreign or unknown conversation id,
        ``EmptyQuestion`` and ``NothingToRegenerate`` before anything is stored.
        """
        return TurnStream(_Turn(self, req, cancel or threading.Event()))

    def default_params(self, **overrides: Any) -> GenerationParams:
        s = self.settings
        base = GenerationParams(
            max_new_tokens=s.max_new_tokens,
            temperature=s.temperature,
            top_p=s.top_p,
            top_k=s.top_k,
            repetition_penalty=s.repetition_penalty,
        )
        overrides = {k: v for k, v in overrides.items() if v is not None}
        if "stop" in overrides:
            overrides["stop"] = tuple(overrides["stop"] or ())
        return replace(base, **overrides)

    def owner_for(self, user_id: str) -> str | None:
        """Document scope of ``user_id``, as access.py decides it for every entry point."""
        return document_scope(self.settings, user_id)


class _Turn:
    """State of one turn; ``execute`` is the generator behind ``TurnStream``."""

    def __init__(self, cm: ConversationManager, req: TurnRequest, cancel: threading.Event) -> None:
        self.cm, self.req, self.cancel = cm, req, cancel
        self.question = req.text.strip()
        self.turns: list[Message] = []
        self.conversation_id: str | None = None
        self.message_id: str | None = None
        self.sources: list[Source] = []
        self.standalone = self.question
        self.phrasings: tuple[str, ...] = ()  # the model's search phrasings (rag/condense.py)
        self.result: TurnResult | None = None
        self.window = None  # llm.window.WindowResult once the prompt is built
        self.warnings: list[str] = []  # e.g. the answer budget was lowered to fit the question
        self._prepare()

    def _prepare(self) -> None:
        req, history = self.req, self.cm.history_manager
        if req.persist:
            conv = history.resolve_conversation(req.user_id, req.conversation_id, req.new_conversation)
            self.conversation_id = conv.id
            if req.regenerate:
                # The old answer stays until a new one replaces it (_finish): a busy model,
                # a refusal or an error leaves the conversation as it was.
                latest = history.get_messages(req.user_id, conv.id, limit=2)  # [question, answer] or [.., question]
                questions = [m for m in latest if m.role == "user"]
                if not questions:
                    raise NothingToRegenerate("There is no question to answer again in this conversation.")
                self.question = questions[-1].content
        if not self.question:
            raise EmptyQuestion("The question is empty.")
        if req.history is not None:
            self.turns = [m for m in req.history if m.get("role") in ("user", "assistant")]
        elif req.persist:
            # Only the newest messages can fit the prompt's history budget: never load a whole long conversation.
            if req.history_len >= 0:
                limit = req.history_len + 2
            else:
                total = history.count_messages(req.user_id, self.conversation_id)
                limit = block_aligned_limit(total, MAX_HISTORY_MESSAGES + 2)
            stored = history.get_messages(req.user_id, self.conversation_id, limit=limit)
            if req.regenerate and stored and stored[-1].role == "assistant":
                stored = stored[:-1]  # the answer being replaced
            if req.regenerate and stored and stored[-1].role == "user":
                stored = stored[:-1]  # the question being answered again
            if req.history_len >= 0:
                stored = stored[-req.history_len :] if req.history_len else []
            self.turns = [{"role": m.role, "content": m.content} for m in stored]
        if req.persist:
            self.message_id = str(uuid.uuid4())

    def _wants_rag(self) -> bool:
        name = self.req.prompt_name or "default"
        if name == "chat" or not self.req.use_rag:
            return False
        return self.cm.knowledge_base.has_documents(self.cm.owner_for(self.req.user_id))

    def _plan_search(self) -> tuple[str, ...]:
        """The condense step: sets ``standalone`` and returns the search phrasings (rag/condense.py).

        One model call a turn at most; with a condense adapter (trained on the rewrite-only
        prompt) only follow-ups are rewritten and there are no phrasings.
        """
        cm, s = self.cm, self.cm.settings
        if not s.condense:
            return ()
        if s.search_phrasings and not uses_condense_adapter(cm.llm):
            plan = plan_search(cm.llm, self.turns, self.question, cache_key=f"{self.req.user_id}\x1fsearch-plan")
            self.standalone, self.phrasings = plan.question, plan.phrasings
        elif self.turns:
            self.standalone = condense_question(cm.llm, self.turns, self.question)
        return self.phrasings

    def execute(self) -> Iterator[str]:
        cm, req, s = self.cm, self.req, self.cm.settings
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        if self._wants_rag():
            phrasings = self._plan_search()
            timings["condense_s"] = time.perf_counter() - t0
            queries = retrieval_queries(s.retrieval_strategy, self.question, self.standalone, self.turns)
            t1 = time.perf_counter()
            self.sources = cm.knowledge_base.search(
                queries + list(phrasings),
                k=req.k or s.retrieval_k,
                document_ids=req.document_ids,
                owner=cm.owner_for(req.user_id),
                weights=[1.0] * len(queries) + [s.phrasing_weight] * len(phrasings),
            )
            timings["retrieve_s"] = time.perf_counter() - t1

        params = req.params or cm.default_params()
        system = build_system_prompt(req.system_prompt or s.system_prompt, self.question, self.sources)
        budget = answer_budget(
            cm.llm.context_window,
            params.max_new_tokens,
            cm.llm.count_tokens([system_message(system, ""),
                                 {"role": "user", "content": question_with_reminder(self.question, self.sources)}]),
        )
        if budget.clamped:
            params = replace(params, max_new_tokens=budget.max_new_tokens)
            self.warnings.append(budget.warning())
            log.info("answer budget clamped: %s", budget.warning())
        window = fit_history(
            system_prompt=system,
            context=format_context(self.sources),
            turns=self.turns,
            question=question_with_reminder(self.question, self.sources),
            count_tokens=cm.llm.count_tokens,
            budget=budget.prompt_budget,
            truncate=cm.llm.truncate_text,
            history_budget=req.history_token_budget or s.history_token_budget,
        )
        self.window = window
        timings["prepare_s"] = time.perf_counter() - t0

        # Busy or too long: raised here, before anything is stored, so a refused turn
        # leaves no unanswered question behind.
        # The KV of this conversation's stable prompt prefix may be reused by its next turn
        # (llm/prefix_cache.py); the key names the user too, so it is never shared.
        cache_key = f"{req.user_id}\x1f{self.conversation_id}" if self.conversation_id else None
        stream = cm.llm.stream(window.messages, replace(params, cache_key=cache_key), self.cancel)
        if req.persist and not req.regenerate:
            cm.history_manager.add_message(self.conversation_id, "user", self.question)
        # A timer turns the generation time limit into the same cancel path as "stop".
        timer = threading.Timer(s.generation_timeout_s, self.cancel.set)
        timer.daemon = True
        timer.start()
        parts: list[str] = []
        finished = failed = False
        # [n] marks that point to no passage are dropped as they stream (rag/citations.py).
        marks = MarkFilter(len(self.sources)) if self.sources else None
        t2 = time.perf_counter()
        try:
            for delta in stream:
                if "first_token_s" not in timings:
                    timings["first_token_s"] = time.perf_counter() - t2
                if marks is not None:
                    delta = marks.feed(delta)
                if delta:
                    parts.append(delta)
                    yield delta
            if marks is not None and (tail := marks.flush()):
                parts.append(tail)
                yield tail
            finished = True
        except BaseException:
            failed = True  # an error or a reader that went away (GeneratorExit)
            raise
        finally:
            timer.cancel()
            timings["generate_s"] = time.perf_counter() - t2
            if not finished:  # an error or a reader that went away: what we have is partial
                self.cancel.set()
                if marks is not None:
                    parts.append(marks.flush())
            self._finish("".join(parts), stream.usage, window.prompt_tokens, params, timings, failed)

    def _is_grounded(self, text: str) -> bool:
        """rag/grounding.py on the passages the answer cites (all of them when it cites none)."""
        if not self.sources or not self.cm.settings.grounding_check or is_abstention(text):
            return True
        cited = [self.sources[n - 1].text for n in mark_numbers(text) if 0 < n <= len(self.sources)]
        return is_grounded(text, self.question, cited or [s.text for s in self.sources])

    def _finish(
        self, text: str, usage: Usage, prompt_tokens: int, params: GenerationParams, timings: dict,
        failed: bool = False,
    ) -> None:
        """Persist the answer; a stopped or interrupted answer is stored as 'partial'.

        A regenerated answer replaces the old one only when it exists and did not fail.
        """
        finish = usage.finish_reason
        if finish == "stop" and self.cancel.is_set():
            finish = "cancelled"
        if finish == "stop" and text and not self._is_grounded(text):
            log.info("answer not drawn from its passages, replaced by the abstention: %r", text[:200])
            self.warnings.append("The model's answer was not found in the passages, so docchat says so instead.")
            text = not_in_docs(self.question)
        if self.sources:  # which sources the answer cites, and whether they back it
            self.sources = annotate(text, self.sources, self.cm.knowledge_base.embedder)
        store = self.req.persist and self.conversation_id and (text or finish != "cancelled")
        if store and self.req.regenerate:
            store = bool(text) and not failed
            if store:
                self.cm.history_manager.delete_last_answer(self.req.user_id, self.conversation_id)
        if store:
            self.cm.history_manager.add_message(
                self.conversation_id,
                "assistant",
                text,
                message_id=self.message_id,
                standalone_query=self.standalone,
                sources=[src.to_dict() for src in self.sources],
                prompt_tokens=usage.prompt_tokens or prompt_tokens,
                completion_tokens=usage.completion_tokens,
                model=self.cm.llm.name,
                params={
                    "temperature": params.temperature,
                    "top_p": params.top_p,
                    "top_k": params.top_k,
                    "max_new_tokens": params.max_new_tokens,
                    "repetition_penalty": params.repetition_penalty,
                },
                status="partial" if finish == "cancelled" else "complete",
            )
        self.result = TurnResult(
            text=text,
            message_id=self.message_id,
            conversation_id=self.conversation_id,
            standalone_query=self.standalone,
            sources=self.sources,
            usage=usage,
            finish_reason=finish,
            prompt_tokens=usage.prompt_tokens or prompt_tokens,
            timings=timings,
            warnings=list(self.warnings),
        )
