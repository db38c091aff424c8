"""Rewrite a follow-up question into a standalone query for retrieval.

"What about its second step?" retrieves nothing useful on its own; the history says what
"it" is. The chat model rewrites the question (prompt in the user's language, greedy,
few tokens). A small model sometimes rewrites badly, so ``retrieval_queries`` lets the
retriever fuse several queries; which ones is a setting chosen by measurement
(bench/conversational.py on TREC CAsT).
"""

from __future__ import annotations

import logging
import re
from typing import Sequence

from llm.types import ChatBackend, GenerationParams, Message
from rag.language import is_chinese

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


def build_condense_messages(turns: Sequence[Message], question: str) -> list[Message]:
    """The chat messages asking the model for a standalone version of ``question``."""
    chinese = is_chinese(question)
    user_label, bot_label = ("用户", "助手") if chinese else ("User", "Assistant")
    lines = []
    for m in list(turns)[-2 * MAX_TURNS :]:
        label = user_label if m["role"] == "user" else bot_label
        lines.append(f"{label}: {_clip(m['content'])}")
    history = "\n".join(lines)
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
    """Standalone query for ``question``; no model call when there is no history."""
    if not turns:
        return question
    messages = build_condense_messages(turns, question)
    try:
        completion = llm.complete(messages, CONDENSE_PARAMS)
    except Exception:  # a failed rewrite must not fail the turn
        log.exception("condensing failed; retrieving with the raw question")
        return question
    standalone = clean_condensed(completion.text, question)
    log.info("condensed %r -> %r", question, standalone)
    return standalone


def retrieval_queries(
    strategy: str, question: str, standalone: str, turns: Sequence[Message]
) -> list[str]:
    """Queries whose results the retriever fuses.

    strategies: "standalone", "raw", "standalone+raw", "standalone+raw+prev"
    (prev = the raw question joined to the previous user question).
    """
    queries: list[str] = []
    if "standalone" in strategy:
        queries.append(standalone)
    if "raw" in strategy or not queries:
        queries.append(question)
    if "prev" in strategy:
        previous = [m["content"] for m in turns if m["role"] == "user"]
        if previous:
            queries.append(f"{previous[-1]} {question}")
    seen: set[str] = set()
    return [q for q in queries if not (q in seen or seen.add(q))]
