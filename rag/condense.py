"""Before retrieval, the chat model says what to search for: the condense step.

"What about its second step?" retrieves nothing useful on its own; the history says what
"it" is. And "What were the capital expenditures?" misses the page titled "Purchases of
property and equipment": the words of the question are not the words of the document.
One greedy model call per turn (``plan_search``) answers both: the question rewritten to
stand alone (follow-ups only) and two or three search phrasings in the words a document
would use (every turn, first ones too). A small model sometimes rewrites badly, so the
retriever fuses several queries (``retrieval_queries``, ``SearchPlan.phrasings``); which
ones is a setting chosen by measurement (bench/conversational.py on TREC CAsT,
bench/retrieval_quality.py).

``condense_question`` is the older call that asks for the rewrite only: the shipped
SmolLM2 condense adapter was trained on its prompt.

Both ask the model only about a question that needs the conversation, and keep a rewrite
only when it still holds the question (rag/standalone.py): a self-contained question asked
inside a conversation is searched as asked, not as the model's guess at its topic.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, replace
from typing import Sequence

from llm.types import ChatBackend, GenerationParams, Message
from rag.language import is_chinese
from rag.standalone import checked_rewrite, read_question

log = logging.getLogger(__name__)

CONDENSE_SYSTEM_EN = (
    "You rewrite the user's last question so that it can be understood without the "
    "conversation. Replace pronouns with the names they refer to and keep every name, "
    "number and term. Reply with the rewritten question only."
)
CONDENSE_SYSTEM_ZH = (
    "请把用户最后的问题改写成一个不依赖上下文也能看懂的独立问题。"
    "把代词换成它指代的名称，保留所有名称、数字和术语。只输出改写后的问题。"
)

# Keep the condense prompt small: it runs before every follow-up answer.
MAX_TURNS = 4
MAX_CHARS_PER_MESSAGE = 400
# adapter: the condense LoRA adapter when one is loaded (llm/adapters.py), else the base model.
CONDENSE_PARAMS = GenerationParams(max_new_tokens=48, temperature=0.0, repetition_penalty=1.0, adapter="condense")

_PREFIX = re.compile(
    r"^\s*(standalone question|rewritten question|follow-up question|question|user|assistant|"
    r"独立问题|改写后的问题|后续问题|问题|用户|助手)\s*[:：]\s*",
    re.IGNORECASE,
)


def _clip(text: str, limit: int = MAX_CHARS_PER_MESSAGE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit].rstrip() + " …"


def _history(turns: Sequence[Message], chinese: bool) -> str:
    """The newest turns as "User: …" / "用户：…" lines, each clipped: the condense prompts' history."""
    user_label, bot_label = ("用户", "助手") if chinese else ("User", "Assistant")
    return "\n".join(f"{user_label if m['role'] == 'user' else bot_label}: {_clip(m['content'])}"
                     for m in list(turns)[-2 * MAX_TURNS:])


def build_condense_messages(turns: Sequence[Message], question: str) -> list[Message]:
    """The chat messages asking the model for a standalone version of ``question``."""
    chinese = is_chinese(question)
    history = _history(turns, chinese)
    if chinese:
        prompt = f"对话：\n{history}\n\n后续问题：{question}\n独立问题："
        system = CONDENSE_SYSTEM_ZH
    else:
        prompt = f"Conversation:\n{history}\n\nFollow-up question: {question}\nStandalone question:"
        system = CONDENSE_SYSTEM_EN
    return [{"role": "system", "content": system}, {"role": "user", "content": prompt}]


def clean_condensed(output: str, question: str) -> str:
    """First non-empty line of the model output without labels or quotes; the raw
    question when the output is empty or implausibly long."""
    for line in output.strip().splitlines():
        previous = None
        while previous != line:  # "User: Standalone question: …" carries two labels
            previous, line = line, _PREFIX.sub("", line).strip().strip('"“”「」\'').strip()
        if line:
            if len(line) > max(300, 4 * len(question)):
                break
            return line
    return question


def condense_question(llm: ChatBackend, turns: Sequence[Message], question: str) -> str:
    """Standalone query for ``question``; no model call when there is no history or the
    question stands alone (rag/standalone.py), and a rewrite that lost the question is not used."""
    if not turns:
        return question
    reading = read_question(question)
    if reading.alone:
        log.info("%r stands alone (%s): searched as asked", question, reading.reason)
        return question
    messages = build_condense_messages(turns, question)
    try:
        completion = llm.complete(messages, CONDENSE_PARAMS)
    except Exception:  # a failed rewrite must not fail the turn
        log.exception("condensing failed; retrieving with the raw question")
        return question
    standalone = checked_rewrite(question, clean_condensed(completion.text, question), turns, reading)
    log.info("condensed %r -> %r", question, standalone)
    return standalone


def retrieval_queries(
    strategy: str, question: str, standalone: str, turns: Sequence[Message]
) -> list[str]:
    """Queries whose results the retriever fuses.

    strategies: "standalone", "raw", "standalone+raw", "standalone+raw+prev"
    (prev = the raw question joined to the previous user question, unless the question
    stands alone: then the previous one would only pull in the old topic).
    """
    queries: list[str] = []
    if "standalone" in strategy:
        queries.append(standalone)
    if "raw" in strategy or not queries:
        queries.append(question)
    if "prev" in strategy and not read_question(question).alone:
        previous = [m["content"] for m in turns if m["role"] == "user"]
        if previous:
            queries.append(f"{previous[-1]} {question}")
    seen: set[str] = set()
    return [q for q in queries if not (q in seen or seen.add(q))]


# --- the search plan: standalone question + search phrasings, one call -------------------
QUERY_SYSTEM_EN = (
    "You prepare a search of the user's documents. Write two lines and nothing else:\n"
    "Question: the user's last question, clear without the conversation (names instead of pronouns; "
    "keep every name, number and term).\n"
    "Search: two or three short search phrases separated by ';', in the words the documents would use: "
    "the title of the table or section that holds the answer, and synonyms.\n\n"
    "Example:\nConversation:\nUser: Tell me about the Eiffel Tower.\nAssistant: It is a wrought-iron tower in Paris.\n"
    "Last question: How tall is it?\n"
    "Question: How tall is the Eiffel Tower?\nSearch: Eiffel Tower height; dimensions of the tower"
)
QUERY_SYSTEM_ZH = (
    "你为检索用户的文档做准备。只写两行：\n"
    "问题：用户最后的问题，改写成不依赖对话也能看懂（用名称代替代词，保留所有名称、数字和术语）。\n"
    "检索：两到三个简短的中文检索短语，用“；”分隔，用文档本身会用的词：答案所在的表格或章节的标题，以及同义词。\n\n"
    "示例输入：\n对话：\n用户：介绍一下埃菲尔铁塔。\n助手：它是巴黎的一座铁塔。\n用户最后的问题：它有多高？\n"
    "示例输出：\n问题：埃菲尔铁塔有多高？\n检索：埃菲尔铁塔高度；铁塔尺寸"
)
# ~25 tokens of output: decode is ~10 tokens/s on two cores with the 1.5B model.
QUERY_PARAMS = GenerationParams(max_new_tokens=64, temperature=0.0, repetition_penalty=1.0)
MAX_PHRASINGS = 3
MAX_PHRASING_CHARS = 80

_QUESTION_LABEL = re.compile(
    r"^\s*(?:standalone question|rewritten question|question|独立问题|改写后的问题|问题)\s*[:：]\s*", re.IGNORECASE)
_SEARCH_LABEL = re.compile(
    r"^\s*(?:search(?: phrases| terms| queries)?|keywords|检索(?:短语|词)?|搜索|关键词)\s*[:：]\s*", re.IGNORECASE)
_OTHER_LABEL = re.compile(r"^\s*(?:last question|conversation|example|用户最后的问题|对话|示例\S*)\s*[:：]", re.IGNORECASE)
_PHRASE_SEPARATOR = re.compile(r"\s*[;；|]\s*")
_QUOTES = "\"'“”‘’「」`*"


@dataclass(frozen=True)
class SearchPlan:
    """What the turn searches for: the standalone question and the model's phrasings."""

    question: str
    phrasings: tuple[str, ...] = ()


def build_query_messages(turns: Sequence[Message], question: str) -> list[Message]:
    """The chat messages asking for a search plan (prompt in the question's language)."""
    chinese = is_chinese(question)
    if chinese:
        history = _history(turns, chinese) or "（无）"
        return [{"role": "system", "content": QUERY_SYSTEM_ZH},
                {"role": "user", "content": f"对话：\n{history}\n用户最后的问题：{question}"}]
    history = _history(turns, chinese) or "(none)"
    return [{"role": "system", "content": QUERY_SYSTEM_EN},
            {"role": "user", "content": f"Conversation:\n{history}\nLast question: {question}"}]


def _phrases(line: str, question: str) -> list[str]:
    out = []
    for phrase in _PHRASE_SEPARATOR.split(line):
        phrase = phrase.strip().strip(_QUOTES).strip().rstrip("。.")
        if phrase and len(phrase) <= MAX_PHRASING_CHARS and phrase.casefold() != question.casefold():
            out.append(phrase)
    return out


def parse_search_plan(output: str, question: str, has_history: bool) -> SearchPlan:
    """The model's two lines as a ``SearchPlan``; anything malformed falls back to ``question``.

    Without history the question stands as asked (the model may only reword or translate
    it). Lines may come without labels: one with ';' holds phrasings, another one the
    rewrite. Phrasings are unique, at most ``MAX_PHRASINGS``, none longer than
    ``MAX_PHRASING_CHARS`` characters or equal to the question.
    """
    rewrite: str | None = None
    phrasings: list[str] = []
    if len(output) > 8 * max(len(question), 60):  # rambling, not a plan
        return SearchPlan(question)
    for raw in output.strip().splitlines():
        line = raw.strip()
        if not line or _OTHER_LABEL.match(line):
            continue
        if _SEARCH_LABEL.match(line):
            phrasings += _phrases(_SEARCH_LABEL.sub("", line), question)
        elif _QUESTION_LABEL.match(line):
            rewrite = rewrite or _QUESTION_LABEL.sub("", line).strip().strip(_QUOTES).strip()
        elif _PHRASE_SEPARATOR.search(line):
            phrasings += _phrases(line, question)
        elif rewrite is None:
            rewrite = line.strip(_QUOTES).strip()
    standalone = question
    if has_history and rewrite and len(rewrite) <= max(300, 4 * len(question)):
        standalone = rewrite
    unique = [p for p in dict.fromkeys(phrasings) if p.casefold() != standalone.casefold()]
    return SearchPlan(standalone, tuple(unique[:MAX_PHRASINGS]))


def plan_search(llm: ChatBackend, turns: Sequence[Message], question: str,
                cache_key: str | None = None) -> SearchPlan:
    """One model call: the standalone question (follow-ups) and search phrasings (every turn).

    A question that stands alone (rag/standalone.py) is planned without the history, like a
    first question: its phrasings only, no rewrite; a rewrite that lost the question is not
    used. ``cache_key`` lets a backend that keeps KV per key reuse this prompt's fixed start
    (the instructions) from the caller's previous plan. A failed call never fails the turn.
    """
    reading = read_question(question) if turns else None
    if reading is not None and reading.alone:
        log.info("%r stands alone (%s): planned without the history", question, reading.reason)
        turns = ()
    messages = build_query_messages(turns, question)
    try:
        completion = llm.complete(messages, replace(QUERY_PARAMS, cache_key=cache_key))
    except Exception:
        log.exception("planning the search failed; retrieving with the question as asked")
        return SearchPlan(question)
    plan = parse_search_plan(completion.text, question, has_history=bool(turns))
    if turns and reading is not None:
        plan = replace(plan, question=checked_rewrite(question, plan.question, turns, reading))
    log.info("search plan for %r: %r + %r", question, plan.question, plan.phrasings)
    return plan


def uses_condense_adapter(llm: ChatBackend) -> bool:
    """Whether ``llm`` carries a condense LoRA adapter (llm/adapters.py), trained on the
    rewrite-only prompt of ``condense_question``."""
    return "condense" in (getattr(llm, "adapters", None) or {})
