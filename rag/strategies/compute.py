"""Retrieve, then answer — and compute in code what the answer computes.

The prompt teaches one calculation form by example (in the system prompt, whose KV is
saved and reused, so it costs no prefill per turn): ``<calc>(4,396 - 3,921) / 3,921 * 100</calc>``.
Generation stops at ``</calc>``; the expression is evaluated by rag/calculator.py (numbers
and + − × ÷ only), its operands are checked against the passages, the result is written
after it (`` = 12.11``) and the model goes on from there: the same conversation is sent again
with the answer so far as ``GenerationParams.assistant_prefix``, so llama.cpp finds all of it
in its KV cache and prefills only the few tokens of the result. The reader sees the
expression and its result without the tags; ``turn.calculations`` keeps each one with its
operands' passages (DESIGN.md §5 ``calculations``).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from dataclasses import replace
from typing import Iterator, Sequence

from llm.types import GenerationParams, Message, TextStream, Usage
from rag.calculator import CALC_CLOSE, CALC_OPEN, calculate, format_result
from rag.language import is_chinese
from rag.metric_calculation import Prepared, answer_text, preparable, prepare, prompt_text, statements_needed
from rag.metric_definitions import calls_for_arithmetic, definitions_prompt
from rag.page_roles import PATH_SEPARATOR, first_statement_pages, title_kind
from rag.prompting import question_with_reminder
from rag.strategies.base import Turn
from rag.types import Chunk, Source
from rag.strategies.retrieve import RetrieveThenAnswer

log = logging.getLogger(__name__)

MAX_CALCULATIONS = 6  # per answer; after that the model's own arithmetic stands
# Rounds of generation per answer: each calculation, and each "=" that was no calculation,
# ends one; the last round runs without the calculator's stop strings.
MAX_ROUNDS = 12
EQUALS = "="
LOCAL_ENGINES = ("llama.cpp", "transformers")

CALC_INSTRUCTIONS_EN = (
    "When the answer needs arithmetic (a ratio, margin, growth rate, difference, sum or average), "
    "never work it out yourself: write the expression with the figures exactly as the passages print "
    f"them between {CALC_OPEN} and {CALC_CLOSE}; the result is written after it. Then finish the "
    "sentence with the unit and the passage number.\n"
    "Examples of the form (the figures are made up):\n"
    f"- \"The current ratio was {CALC_OPEN}2,145 / 1,630{CALC_CLOSE} = 1.32 at the end of 2022 [3].\"\n"
    f"- \"Revenue grew {CALC_OPEN}(4,396 - 3,921) / 3,921 * 100{CALC_CLOSE} = 12.11% in 2023 [1].\"\n"
    f"- \"Average inventory was {CALC_OPEN}(812 + 768) / 2{CALC_CLOSE} = 790 million dollars [2].\""
)
CALC_INSTRUCTIONS_ZH = (
    "需要计算（比率、利润率、增长率、差额、合计或平均值）时，不要自己计算：把片段中印出的数字原样写成算式，"
    f"放在{CALC_OPEN}和{CALC_CLOSE}之间，结果会写在算式后面。然后写上单位和片段编号。\n"
    "格式示例（数字是虚构的）：\n"
    f"- “2022年末流动比率为{CALC_OPEN}2,145 / 1,630{CALC_CLOSE} = 1.32[3]。”\n"
    f"- “2023年营业收入增长{CALC_OPEN}(4,396 - 3,921) / 3,921 * 100{CALC_CLOSE} = 12.11%[1]。”"
)
FAILED_EN = "(calculation failed)"
FAILED_ZH = "（计算失败）"


class ComputeStrategy(RetrieveThenAnswer):
    name = "compute"

    def __init__(self) -> None:
        self.prepared: list[Prepared] = []

    def find(self, turn: Turn) -> str | None:
        """The passages, then what code can compute from them for the question
        (rag/metric_calculation.py): a metric the question names, read from the statement rows
        in the right year's column, or one line item's figure. Search returns a statement page
        in chunks of ~200 tokens, often without the rows a metric needs or the heading that
        names the columns' years, so the rest of each passage's page is read from the index
        too, and so is the company's own statement (rag/page_roles.py) a line item lives on
        when no passage is on it: "inventory turnover" finds the balance sheet's inventories,
        seldom the income statement's cost of sales. A chunk whose rows a calculation uses
        joins the passages after the retrieved ones (so the reader sees and can open it).
        Each calculation is a calculation of the turn (shown with its operands' pages) and
        goes into the question's message."""
        super().find(turn)
        if not turn.sources or not preparable(turn.standalone):  # no page is read for other questions
            return None
        documents = _documents(turn)
        own = _own_statement_pages(documents)
        page_mates = [*_page_mates(turn, documents),
                      *_statement_pages(turn, documents, own, statements_needed(turn.standalone))]
        prepared = self._prepare(turn, page_mates, own)
        used = sorted({n for p in prepared for n in p.calculation.sources if n > len(turn.sources)})
        if used:  # again over the passages the prompt will carry, numbered as it numbers them
            joining = [page_mates[n - len(turn.sources) - 1] for n in used]
            turn.sources = [*turn.sources, *joining]
            prepared = self._prepare(turn, [], own, headings=[m for m in page_mates if m not in joining])
        self.prepared = prepared
        turn.calculations.extend(p.calculation for p in prepared)
        self.keep_passages = max((n for p in prepared for n in p.calculation.sources), default=0)
        return None

    @staticmethod
    def _prepare(turn: Turn, page_mates: list[Source], own: dict[str, set[tuple[str, int]]],
                 headings: list[Source] = ()) -> list[Prepared]:
        """Prepared calculations over the passages and ``page_mates`` (numbered after them);
        ``headings`` only name the columns' years of their pages' rows. A statement page that
        is not among its document's ``own`` statement pages (a guarantor's, an exhibit's) counts
        as a page of unknown role, so the company's own statement's row comes first."""
        passages = [*turn.sources, *page_mates]
        return prepare(turn.standalone, [s.text for s in passages], [(s.document_id, s.page) for s in passages],
                       headings=[((h.document_id, h.page), h.text) for h in headings],
                       filenames=[s.filename for s in passages],
                       statements=[_own_statement(s, own) for s in passages])

    def instructions(self, turn: Turn, base: str) -> str:
        """The answer's instructions, with the calculator's form and examples only where the
        question (as asked or as searched) calls for arithmetic; the others get the plain
        retrieve-then-answer prompt, whose system-prompt KV is saved as well. A conversation
        that moves between the two re-reads its kept history once at the switch."""
        system = super().instructions(turn, base)
        if not turn.sources or not (calls_for_arithmetic(turn.question) or calls_for_arithmetic(turn.standalone)):
            return system
        return f"{system}\n\n{CALC_INSTRUCTIONS_ZH if is_chinese(turn.question) else CALC_INSTRUCTIONS_EN}"

    def question(self, turn: Turn) -> str:
        """The question, then the calculations code prepared for it, or else the definitions of
        the metrics it names (rag/metrics.toml) when it does not define them itself, then the
        reminder: these change with the question, so they go here, never into the system
        prompt whose KV is reused."""
        if self.prepared:  # the prepared calculation names its formula: no definition needed
            added = prompt_text(self.prepared, is_chinese(turn.question))
        else:
            added = definitions_prompt(turn.question) if turn.sources else ""
        asked = f"{turn.question}\n\n{added}" if added else turn.question
        return question_with_reminder(asked, turn.sources)

    def answer_from_code(self, turn: Turn) -> str:
        """The calculations prepared for the question, as an answer: they were read from the
        statement rows of these passages, so a decline would hide what the passages do hold."""
        return answer_text(self.prepared)

    def generate(self, turn: Turn, messages: list[Message], params: GenerationParams) -> TextStream:
        if not turn.sources:
            return super().generate(turn, messages, params)
        if params.cache_key is None:
            # a stateless turn (no conversation) still continues its own answer after a
            # calculation: its KV is kept under a key of its own, which no other request names
            params = replace(params, cache_key=f"{turn.req.user_id}\x1fturn\x1f{uuid.uuid4()}")
        usage = Usage()
        return TextStream(_calculating(turn, messages, params, usage), usage)


def _statement(section: str | None) -> str | None:
    """The statement a passage's page is, from its section path's last step (rag/page_roles.py)."""
    kind = title_kind(section.split(PATH_SEPARATOR)[-1]) if section else None
    return kind[0] if kind else None


def _documents(turn: Turn) -> dict[str, list[Chunk]]:
    """The indexed chunks of each of the passages' documents (none where the knowledge base
    is a stand-in without chunks)."""
    chunks_of = getattr(turn.passages, "document_chunks", None)
    if chunks_of is None:
        return {}
    return {document_id: chunks_of(document_id, turn.owner)
            for document_id in dict.fromkeys(s.document_id for s in turn.sources)}


def _own_statement_pages(documents: dict[str, list[Chunk]]) -> dict[str, set[tuple[str, int]]]:
    """(document, page) of each statement's first run of pages in each document: the company's
    own statements (rag.page_roles.first_statement_pages)."""
    own: dict[str, set[tuple[str, int]]] = {}
    for document_id, chunks in documents.items():
        runs = first_statement_pages((c.page, kind) for c in chunks if (kind := _statement(c.section)))
        for kind, pages in runs.items():
            own.setdefault(kind, set()).update((document_id, page) for page in pages)
    return own


def _own_statement(source: Source, own: dict[str, set[tuple[str, int]]]) -> str | None:
    """The statement ``source``'s page is, unless its document prints that statement first on
    other pages (``own``, read from every passage's document; empty where the knowledge base
    has no chunks to read, and then every statement page counts)."""
    kind = _statement(source.section)
    if kind is None or not own or (source.document_id, source.page) in own.get(kind, ()):
        return kind
    return None


def _page_mates(turn: Turn, documents: dict[str, list[Chunk]]) -> list[Source]:
    """The chunks of the passages' pages that search did not return, in page order."""
    have = {s.chunk_id for s in turn.sources}
    mates: list[Source] = []
    for document_id, chunks in documents.items():
        pages = {s.page: s for s in turn.sources if s.document_id == document_id}
        for chunk in chunks:
            if chunk.page in pages and chunk.id not in have:
                section = chunk.section or pages[chunk.page].section
                mates.append(Source(chunk.document_id, chunk.filename, chunk.page, chunk.text,
                                    pages[chunk.page].score, chunk.id, section=section))
    return mates


def _statement_pages(turn: Turn, documents: dict[str, list[Chunk]], own: dict[str, set[tuple[str, int]]],
                     needed: Sequence[str]) -> list[Source]:
    """The chunks of the first passage's document's own ``needed`` statements that no passage
    is on, in page order: the question is about one company's year, and that company's
    statement holds the line the search missed."""
    document_id = turn.sources[0].document_id
    have = {(s.document_id, s.page) for s in turn.sources}
    wanted = set()
    for kind in needed:
        pages = {key for key in own.get(kind, ()) if key[0] == document_id}
        if pages and not pages & have:
            wanted |= pages
    score = min(s.score for s in turn.sources)
    return [Source(c.document_id, c.filename, c.page, c.text, score, c.id, section=c.section)
            for c in documents.get(document_id, ()) if (c.document_id, c.page) in wanted]


def open_calculation(text: str) -> str | None:
    """The expression of a calculation ``text`` has opened and not closed (generation stopped
    at its close), or None."""
    at = text.rfind(CALC_OPEN)
    if at < 0 or CALC_CLOSE in text[at:]:
        return None
    return text[at + len(CALC_OPEN):]


# The end of a text that is arithmetic: figures ("$34,616", "12.5%", "(1,234)") joined by
# operators, as a model writes it before "=" when it computes without the form.
_ARITHMETIC_TAIL = re.compile(r"[\d\s.,+\-*/×÷()$%]+$")
_OPERATION = re.compile(r"\d[\s%)]*[-+*/×÷][\s($]*\d")
_DATE = re.compile(r"\b\d{1,2}/\d{1,2}/\d{2,4}\b")


def inline_expression(text: str) -> str | None:
    """The arithmetic ``text`` ends with, when the model writes "... is $34,616 / 2 =" and
    would work out the result itself: docchat computes it instead. None when the text before
    the "=" is not a calculation (a definition "margin =", a date, a single figure)."""
    tail = _ARITHMETIC_TAIL.search(text)
    if tail is None:
        return None
    expression = tail.group(0).lstrip(" ,.)").rstrip()
    while expression.count("(") > expression.count(")") and expression.startswith("("):
        expression = expression[1:].lstrip()
    if (expression.count("(") != expression.count(")") or not _OPERATION.search(expression)
            or _DATE.search(expression)):
        return None
    return expression


def _calculating(turn: Turn, messages: list[Message], params: GenerationParams, usage: Usage) -> Iterator[str]:
    """The answer's deltas, the model stopped at each ``</calc>`` and continued after the result."""
    chinese = is_chinese(turn.question)
    passages = [s.text for s in turn.sources]
    shown = TagFilter()
    answer = ""  # what the model has written so far, tags and results included: what it continues
    # The local engines say which stop string ended a round; a remote server stops on its own
    # and does not, so there only the explicit form is caught (an "=" would end the answer).
    stops = (*params.stop, CALC_CLOSE, *((EQUALS,) if turn.llm.engine in LOCAL_ENGINES else ()))
    for round_ in range(MAX_ROUNDS + 1):
        left = params.max_new_tokens - usage.completion_tokens
        if left <= 0:
            break
        model = turn.llm.stream(messages, replace(params, stop=stops if round_ < MAX_ROUNDS else params.stop,
                                                  assistant_prefix=answer, max_new_tokens=left), turn.cancel)
        written: list[str] = []
        try:
            for delta in model:
                written.append(delta)
                if text := shown.feed(delta):
                    yield text
        finally:
            _add(usage, model.usage, first=round_ == 0, turn=turn)
            log.debug("round %d: prompt %d tokens (%d from the KV cache), %d new, stopped by %r",
                      round_, model.usage.prompt_tokens, model.usage.cached_prompt_tokens,
                      model.usage.completion_tokens, model.usage.stopped_by)
        answer += "".join(written)
        if model.usage.finish_reason != "stop" or turn.cancel.is_set() or round_ == MAX_ROUNDS:
            break
        closing, expression = CALC_CLOSE, open_calculation(answer)
        if expression is None:  # stopped at "=" (or at the end: then the next round ends at once)
            closing, expression = "", inline_expression(answer)
        if expression is None:
            if model.usage.stopped_by != EQUALS:
                break
            answer += EQUALS  # not a calculation ("margin = ..."): the "=" is the model's
            if text := shown.feed(EQUALS):
                yield text
            continue
        if len(turn.calculations) >= MAX_CALCULATIONS:
            break
        t0 = time.perf_counter()
        calc = calculate(expression, passages)
        turn.calculations.append(calc)
        result = format_result(calc.result) if calc.result is not None else (FAILED_ZH if chinese else FAILED_EN)
        log.info("calculation %r = %s (%s)", expression, result, calc.flag or "checked")
        currency = "$" if not closing and expression.lstrip("( -").startswith("$") and calc.result is not None else ""
        written_result = f"{closing}{' ' if closing else ''}{EQUALS} {currency}{result}"
        answer += written_result
        turn.timings["calc_s"] = turn.timings.get("calc_s", 0.0) + time.perf_counter() - t0
        if text := shown.feed(written_result):
            yield text
    if tail := shown.flush():
        yield tail


def _add(total: Usage, part: Usage, *, first: bool, turn: Turn) -> None:
    """The answer's usage over its rounds: the first round's prompt, every round's tokens.
    What a continuation had to prefill (not found in the KV cache) is kept in the timings."""
    if first:
        total.prompt_tokens, total.cached_prompt_tokens = part.prompt_tokens, part.cached_prompt_tokens
    else:
        fresh = max(0, part.prompt_tokens - part.cached_prompt_tokens)
        turn.timings["calc_prefill_tokens"] = turn.timings.get("calc_prefill_tokens", 0) + fresh
    total.completion_tokens += part.completion_tokens
    total.finish_reason = part.finish_reason


class TagFilter:
    """Drops the calculation tags from streamed text, holding back the end of a delta that
    may still become one ("<ca" + "lc>")."""

    TAGS = (CALC_OPEN, CALC_CLOSE)

    def __init__(self) -> None:
        self._held = ""

    def feed(self, delta: str) -> str:
        text = self._held + delta
        for tag in self.TAGS:
            text = text.replace(tag, "")
        keep = max((n for tag in self.TAGS for n in range(1, len(tag)) if text.endswith(tag[:n])), default=0)
        self._held = text[len(text) - keep:] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        held, self._held = self._held, ""
        return held
