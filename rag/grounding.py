"""Is an answer drawn from its passages at all? The check behind "not in your documents".

A small model asked about something the passages do not hold rarely says so: it writes a
fluent, cited answer ("The CEO's favourite colour is blue. [1]"). What gives it away is
that the words it adds to the question are nowhere in the passages, or that it adds
nothing (it restates the question: "The board ate lunch at the meeting. [1]"). An answer
drawn from the passages repeats their names and terms. Figures are left out of the test:
a model may compute one (a ratio, a change) that no passage prints. Pure: the turn decides
what to do with an ungrounded answer (rag/turn.py).
"""

from __future__ import annotations

import functools
import re
import threading
from typing import Sequence

import snowballstemmer

from rag.citations import content_words
from rag.keyword_index import tokenize as keyword_tokens

# Share of the answer's added words that must occur in the passages. Answers drawn from
# a passage score 0.7-1.0 on the evaluation sets; invented details 0-0.3.
MIN_GROUNDED_SHARE = 0.5
# An answer to a yes/no question may restate the question after "Yes,".
_YES_NO = re.compile(r"^\W*(?:yes|no|是|否|不是|对|不对|没有|有)(?:\b|[，,。.])", re.IGNORECASE)
_YES_NO_WORDS = frozenset({"yes", "no", "不是", "没有", "不对"})  # single Chinese characters never count (_words)
_NUMBER = re.compile(r"^\d[\d.,]*$")


_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")


def _words(text: str) -> list[str]:
    """Content words; Chinese cut into words by jieba (as the keyword index does), single
    characters left out: 的, 从, 家 say nothing about where an answer came from, 增长 does."""
    words = content_words(_CJK_RUN.sub(" ", text))
    for run in _CJK_RUN.findall(text):
        words += [w for w in keyword_tokens(run) if len(w) > 1]
    return words


_STEMMERS = threading.local()  # a Snowball stemmer keeps its word in itself: one per thread


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    """One English word, whatever its inflection ("increased" and "increase", "millions" and
    "million"): an answer that says "Yes, net earnings increased" to "Did net earnings
    increase?" adds nothing to the question. Snowball's English stemmer; Chinese as it is."""
    if not word.isascii():
        return word
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)


def added_words(answer: str, question: str) -> list[str]:
    """The answer's content words (stemmed) that the question does not already contain."""
    asked = {_stem(w) for w in _words(question)}
    words = (_stem(w) for w in _words(answer))
    return [w for w in words if w not in asked and w not in _YES_NO_WORDS]


def grounded_share(answer: str, question: str, passages: Sequence[str]) -> float | None:
    """Share of the answer's added words, figures aside, found in the passages.

    None when the answer adds no word at all (a restated question); 1.0 when it adds only
    figures.
    """
    added = added_words(answer, question)
    if not added:
        return None
    words = [w for w in added if not _NUMBER.match(w)]
    if not words:
        return 1.0
    known = {_stem(w) for passage in passages for w in _words(passage)}
    return sum(w in known for w in words) / len(words)


def is_grounded(answer: str, question: str, passages: Sequence[str]) -> bool:
    """False when the answer only restates the question (unless it answers yes or no) or
    adds mostly words that none of ``passages`` contains."""
    share = grounded_share(answer, question, passages)
    if share is None:
        return bool(_YES_NO.match(answer))
    return share >= MIN_GROUNDED_SHARE
