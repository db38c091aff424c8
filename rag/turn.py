"""One answer, end to end (DESIGN.md §1, steps 2-5): search plan → retrieve → prompt with
the newest turns that fit the token budget → stream from the chat model → grounding
check → citation marks.

A plain module: it loads and stores no conversation and decides nobody's access.
``services/chat.py`` hands a ``Turn`` the question, the earlier turns, the document scope
and the sampling parameters, reads its deltas, and stores ``Turn.result`` once the turn
ends — however it ends (finished, stopped, failed, or a reader that went away).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from dataclasses import replace
from typing import Any, Iterator, Protocol, Sequence

from llm.types import ChatBackend, GenerationParams, Message, TextStream, Usage
from llm.window import WindowResult, answer_budget, fit_history, system_message
from rag.calculator import Calculation
from rag.citations import MARK, MarkFilter, annotate, cite_unmarked
from rag.figures import states, unaccounted
from rag import collection
from rag.condense import condense_question, plan_search, retrieval_queries, uses_condense_adapter
from rag.grounding import is_grounded
from rag.metric_definitions import label_queries, line_items_in
from rag.page_roles import statements_for
from rag.prompting import is_abstention, not_in_docs
from rag.strategies import AnswerStrategy, CollectionStrategy, choose
from rag.types import Chunk, SearchFocus, Source, TurnRequest, TurnResult
from settings import Settings

log = logging.getLogger(__name__)

__all__ = ["Passages", "Turn", "TurnRequest", "TurnResult"]

# Where a sentence ends: a full stop before a space or the end ("3.47" is no full stop).
_SENTENCE_END = re.compile(r"[.!?;](?=\s|$)|[。！？；]|\n+")
LABEL_WEIGHT = 1.0  # rank-fusion weight of the line-item label queries (the question's is 1.0)

class Passages(Protocol):
    """What a turn needs of the knowledge base (rag/knowledge_base.py, or a stand-in in a bench)."""

    embedder: Any

    def has_documents(self, owner: str | None = None) -> bool: ...

    def search(self, queries: str | list[str], k: int = 5, document_ids: list[str] | None = None,
               owner: str | None = None, phrasings: Sequence[str] = (), phrasing_weight: float = 1.0,
               statements: Sequence[str] = ()) -> list[Source]: ...

    def list(self, owner: str | None = None) -> list[Any]: ...

    def routed_documents(self, queries: list[str], document_ids: list[str] | None = None,
                         owner: str | None = None) -> list[str]: ...

    def document_chunks(self, document_id: str, owner: str | None = None) -> list[Chunk]: ...


class Turn:
    """State of one answer. ``start`` builds the prompt and opens the model's stream (a busy
    model or a prompt that cannot fit raises there); ``deltas`` yields the answer."""

    def __init__(
        self,
        settings: Settings,
        llm: ChatBackend,
        passages: Passages,
        req: TurnRequest,
        params: GenerationParams,
        *,
        question: str,
        turns: Sequence[Message] = (),
        owner: str | None = None,
        conversation_id: str | None = None,
        message_id: str | None = None,
        cancel: threading.Event | None = None,
    ) -> None:
        self.settings, self.llm, self.passages, self.req = settings, llm, passages, req
        self.params = params
        self.question = question
        self.turns = list(turns)
        self.owner = owner  # whose documents (services/access.py decided)
        self.conversation_id, self.message_id = conversation_id, message_id
        self.cancel = cancel or threading.Event()
        self.standalone = question
        self.phrasings: tuple[str, ...] = ()  # the model's search phrasings (rag/condense.py)
        self.sources: list[Source] = []
        self.window: WindowResult | None = None
        self.warnings: list[str] = []  # e.g. the answer budget was lowered to fit the question
        self.focus: SearchFocus | None = None  # the files the question names (retrieve)
        self.timings: dict[str, float] = {}
        self.failed = False  # ended by an error, not by its end or a stop
        self.result: TurnResult | None = None
        self._model: TextStream | None = None
        self.strategy: AnswerStrategy | None = None  # how this turn answers (rag/strategies/)
        self.calculations: list[Calculation] = []  # what the answer computed (rag/strategies/compute.py)
        self._listed: list[Any] | None = None  # the caller's documents (_documents)
        self.progress: tuple[int, int] | None = None  # (parts done, parts) while a long file is summarised

    # --- before the model answers ----------------------------------------------------------
    def wants_rag(self) -> bool:
        if (self.req.prompt_name or "default") == "chat" or not self.req.use_rag:
            return False
        return self.passages.has_documents(self.owner)

    def _plan_search(self) -> tuple[str, ...]:
        """The condense step: sets ``standalone`` and returns the search phrasings (rag/condense.py).

        One model call a turn at most; with a condense adapter (trained on the rewrite-only
        prompt) only follow-ups are rewritten and there are no phrasings.
        """
        s = self.settings
        if not s.condense:
            return ()
        if s.search_phrasings and not uses_condense_adapter(self.llm):
            plan = plan_search(self.llm, self.turns, self.question, cache_key=f"{self.req.user_id}\x1fsearch-plan")
            self.standalone, self.phrasings = plan.question, plan.phrasings
        elif self.turns:
            self.standalone = condense_question(self.llm, self.turns, self.question)
        return self.phrasings

    def retrieve(self) -> list[Source]:
        """The retrieval step, the one place a turn finds its passages: the question, its
        standalone rewrite and the model's phrasings, fused over the caller's documents —
        only over the files the question names, when it names some (rag/collection.py)."""
        s, t0 = self.settings, time.perf_counter()
        document_ids = self.req.document_ids
        if not document_ids:
            named = collection.named_documents(self.question, self.documents())
            if named:
                document_ids = [d.id for d in named]
                self._focus([d.filename for d in named], only=True)
        phrasings = self._plan_search()
        self.timings["condense_s"] = time.perf_counter() - t0
        queries = retrieval_queries(s.retrieval_strategy, self.question, self.standalone, self.turns)
        if self.focus is None:
            self._focus_routed(queries, document_ids)
        # The printed labels of the line items the question names ("capex" is printed "purchases
        # of property and equipment"), fused like phrasings at full weight: all 54 FinanceBench
        # filings recall@5 0.58 -> 0.74 at 1.0, no gain at the phrasings' 0.5 (BENCHMARKS.md §2e).
        labels = label_queries(self.standalone)  # a follow-up names its metric in the history
        weight = max(s.phrasing_weight, LABEL_WEIGHT) if labels else s.phrasing_weight
        t1 = time.perf_counter()
        sources = self.passages.search(
            queries,
            k=self.req.k or s.retrieval_k,
            document_ids=document_ids,
            owner=self.owner,
            phrasings=(*phrasings, *labels),
            phrasing_weight=weight,
            statements=self.statements(),
        )
        self.timings["retrieve_s"] = time.perf_counter() - t1
        return sources

    def statements(self) -> list[str]:
        """The financial statements the question's line items are printed on, from its own words
        ("balance sheet") and the metrics it names (rag/metrics.toml), as the standalone question
        says them ("and in 2022?" names none itself): the search weighs their
        pages up (rag/section_weighing.py; all 54 FinanceBench filings: recall@5 0.58 -> 0.70)."""
        named = statements_for(self.standalone) + [item.statement for item in line_items_in(self.standalone)]
        return list(dict.fromkeys(named))

    def _focus(self, filenames: list[str], only: bool) -> None:
        self.focus = SearchFocus(tuple(filenames), only)
        self.warnings.append(self.focus.note())

    def _focus_routed(self, queries: list[str], document_ids: list[str] | None) -> None:
        """Say which files the search weighs up because the question names them ("3M",
        "FY2018"): the answer's sources then show why they come from one file. Not said when
        those are all the files searched anyway."""
        routed = self.passages.routed_documents(queries, document_ids, self.owner)
        ready = [d for d in self.documents() if d.status == "ready" and (not document_ids or d.id in document_ids)]
        if routed and len(routed) < len(ready):
            names = {d.id: d.filename for d in ready}
            filenames = [names[d] for d in routed if d in names]
            if filenames:
                self._focus(filenames, only=False)

    def documents(self) -> list[Any]:
        """The caller's documents, read from the registry once a turn."""
        if self._listed is None:
            self._listed = self.passages.list(self.owner)
        return self._listed

    def start(self) -> None:
        """Retrieve, build the prompt within the budget and open the model's stream.

        Busy or too long raise here, before the caller stores anything.
        """
        t0 = time.perf_counter()
        strategy = self.strategy = choose(self)
        ready = strategy.find(self)
        if ready is not None:  # answered from the document list: no model call
            self._model = TextStream(iter([ready]), Usage())
            self.window = WindowResult(messages=[], kept_turns=0, dropped_turns=0, prompt_tokens=0)
            return
        params, llm = self.params, self.llm
        question = strategy.question(self)
        system = strategy.instructions(self, self.req.system_prompt or self.settings.system_prompt)
        budget = answer_budget(llm.context_window, params.max_new_tokens,
                               llm.count_tokens([system_message(system, ""), {"role": "user", "content": question}]))
        if budget.clamped:
            params = self.params = replace(params, max_new_tokens=budget.max_new_tokens)
            self.warnings.append(budget.warning())
            log.info("answer budget clamped: %s", budget.warning())
        self.window = fit_history(
            system_prompt=system,
            context=strategy.context(self),
            turns=self.turns,
            question=question,
            count_tokens=llm.count_tokens,
            budget=budget.prompt_budget,
            truncate=llm.truncate_text,
            history_budget=self.req.history_token_budget or self.settings.history_token_budget,
        )
        self.timings["prepare_s"] = time.perf_counter() - t0
        # The KV of this conversation's stable prompt prefix may be reused by its next turn
        # (llm/prefix_cache.py); the key names the user too, so it is never shared. Only the
        # server's own system prompt (not a caller's) is the same for everyone: any first turn
        # may start from its KV.
        cache_key = f"{self.req.user_id}\x1f{self.conversation_id}" if self.conversation_id else None
        shared = "" if self.req.system_prompt else system
        self._model = strategy.generate(self, self.window.messages,
                                        replace(params, cache_key=cache_key, shared_prefix=shared))

    # --- the answer --------------------------------------------------------------------------
    def deltas(self) -> Iterator[str]:
        """The answer delta by delta; ``result`` is set when it ends, however it ends."""
        if self._model is None:
            self.start()
        model = self._model
        assert model is not None and self.window is not None
        # A timer turns the generation time limit into the same cancel path as "stop".
        timer = threading.Timer(self.settings.generation_timeout_s, self.cancel.set)
        timer.daemon = True
        timer.start()
        parts: list[str] = []
        finished = False
        # [n] marks that point to no passage are dropped as they stream, and marks are moved
        # to the passage that prints their sentence's figures (rag/citations.py).
        marks = MarkFilter(len(self.sources), [s.text for s in self.sources]) if self.sources else None
        t0 = time.perf_counter()
        try:
            for delta in model:
                self.timings.setdefault("first_token_s", time.perf_counter() - t0)
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
            self.failed = True  # an error or a reader that went away (GeneratorExit)
            raise
        finally:
            timer.cancel()
            self.timings["generate_s"] = time.perf_counter() - t0
            if not finished:  # what we have is partial
                self.cancel.set()
                if marks is not None:
                    parts.append(marks.flush())
            self._finish("".join(parts), model.usage)

    def _is_grounded(self, text: str) -> bool:
        """rag/grounding.py over all the passages: an answer drawn from passage 3 that cites
        [2] is a wrong mark (the support check flags it), not an answer to replace."""
        if (not self.sources or not self.settings.grounding_check or is_abstention(text)
                or (isinstance(self.strategy, CollectionStrategy) and self.strategy.asked.kind != "summary")):
            return True
        prepared = [p.calculation for p in getattr(self.strategy, "prepared", ())]
        if any(c.ok and not any(c is p for p in prepared) for c in self.calculations):
            return True  # it computed from figures the passages print: its claim is drawn from them
        if any(p.ok and p.result is not None and states(text, p.result) for p in prepared):
            return True  # it states what code computed from the passages' rows for this question
        # (code prepares nothing for a question naming a company no passage prints, so a
        # prepared result the answer does not state says nothing of whether it is drawn from them)
        return is_grounded(text, self.question, [s.text for s in self.sources])

    def _finish(self, text: str, usage: Usage) -> None:
        """The result: a stopped answer is 'cancelled'; one its passages do not hold becomes
        the abstention; the sources say which ones the answer cites and whether they back it."""
        finish = usage.finish_reason
        if finish == "stop" and self.cancel.is_set():
            finish = "cancelled"
        model_text = text
        replaced = finish == "stop" and bool(text) and not self._is_grounded(text)
        unaccounted = [] if replaced else self._unaccounted(text)
        if unaccounted and finish == "stop" and _sentences(text) <= 1:
            # its only claim is a figure no passage prints and no calculation gave
            log.info("answer states figures printed nowhere (%s), replaced by the abstention: %r",
                     ", ".join(unaccounted), text[:200])
            replaced = True
        elif unaccounted:
            self.warnings.append(f"Figures not found in the passages: {', '.join(unaccounted)}.")
        computed = self.strategy.answer_from_code(self) if self.strategy and finish == "stop" else ""
        # the model stated none of what code computed from the passages' rows: code states it
        stated_by_code = bool(computed) and (replaced or is_abstention(text) or not _says_something(text))
        if stated_by_code:
            log.info("answer %r states nothing of the prepared calculation; docchat states it", text[:200])
            self.warnings.append("The model's answer did not state docchat's calculation, so docchat states it.")
            text, replaced, unaccounted = computed, False, []
        if replaced:
            if not unaccounted:
                log.info("answer not drawn from its passages, replaced by the abstention: %r", text[:200])
            self.warnings.append("The model's answer was not found in the passages, so docchat says so instead.")
            text = not_in_docs(self.question)
        if (self.sources and finish == "stop" and not stated_by_code and not is_abstention(text)
                and not isinstance(self.strategy, CollectionStrategy)):
            text = cite_unmarked(text, [s.text for s in self.sources])  # the model forgot its marks
        if self.sources:
            self.sources = annotate(text, self.sources, self.passages.embedder)
        prompt_tokens = usage.prompt_tokens or (self.window.prompt_tokens if self.window else 0)
        self.result = TurnResult(
            text=text,
            message_id=self.message_id,
            conversation_id=self.conversation_id,
            standalone_query=self.standalone,
            sources=self.sources,
            usage=usage,
            finish_reason=finish,
            prompt_tokens=prompt_tokens,
            timings=self.timings,
            warnings=list(self.warnings),
            focus=self.focus,
            replaced=replaced,
            calculations=[c.to_dict() for c in self.calculations],
            strategy=self.strategy.name if self.strategy else "",
            unaccounted=unaccounted,
            model_text=model_text if replaced or stated_by_code else "",
            stated_by_code=stated_by_code,
        )

    def _unaccounted(self, text: str) -> list[str]:
        """The figures the answer states that no passage prints and no calculation of this
        answer gave (rag/figures.py); [] without passages or for an abstention."""
        if not self.sources or not text or is_abstention(text) or not self.settings.grounding_check or (
                isinstance(self.strategy, CollectionStrategy) and self.strategy.asked.kind != "summary"):
            return []
        computed = [c.result for c in self.calculations if c.result is not None]
        # the question's own figures ("more than 20%") are the user's, not the model's invention
        return unaccounted(text, [self.question, *(s.text for s in self.sources)], computed)


def _says_something(text: str) -> bool:
    """Words or figures beyond [n] marks: "[1] [2]." says nothing."""
    return bool(re.search(r"\w", MARK.sub("", text)))


def _sentences(text: str) -> int:
    """How many sentences ``text`` has, its [n] marks aside."""
    body = MARK.sub("", text).strip()
    return len(_SENTENCE_END.findall(body)) + bool(_SENTENCE_END.split(body)[-1].strip())
