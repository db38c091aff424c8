"""Is an answer drawn from its passages at all? The check behind "not in your documents".

A small model asked about something the passages do not hold rarely says so: it writes a
fluent, cited answer ("The CEO's favourite colour is blue. [1]"). What gives it away:

* the words it adds to the question are nowhere in the passages, or it adds nothing (it
  restates the question: "The board ate lunch at the meeting. [1]");
* the question itself is about something no passage speaks of: (almost) none of its
  distinctive words ("parrots", "喜欢", "颜色") is on any page, yet the model answers with a
  name or a figure it borrowed from the passages ("The company owns 4 parrots [1]", "Jane
  Doe [1]"). Every word such an answer adds is on the page, so the first test lets it
  through. (A question of which only one word is missing — "Antarctica" in "How many
  employees does Amazon have in Antarctica?" — is not caught: the missing word of a right
  answer is as often a company's name its page does not print, or a metric's name.)

* it answers "how many X?" with a bare figure ("[3] 582", "2个[1]") that a page prints about
  something else: a figure says nothing of what it counts, so the page that prints it must
  speak of X or of all the rest of the question (``counts_what_was_asked``) — "company cars",
  "lease" and "Iceland" are not on the page of J&J's segment table that prints 582.

An answer drawn from the passages repeats their names and terms. Figures are left out of
the word test: a model may compute one (a ratio, a change) that no passage prints. An
answer in one language over passages in the other (a Chinese summary of an English
report) cannot repeat their words: it is judged by the figures, names and Latin terms it
shares with them, and kept when it states none. Pure: the turn decides what to do with an
ungrounded answer (rag/turn.py).
"""

from __future__ import annotations

import re
from typing import Iterable, Sequence

from rag.citations import MARK, STOPWORDS, content_words, figures
from rag.figures import answer_figures, unaccounted
from rag.keyword_index import tokenize as keyword_tokens
from rag.language import is_chinese, stem

# Share of the answer's added words that must occur in the passages. Answers drawn from
# a passage score 0.7-1.0 on the evaluation sets; invented details 0-0.3.
MIN_GROUNDED_SHARE = 0.5
# Share of the question's distinctive words that must occur in some passage, for questions
# of at least MIN_QUESTION_TERMS of them. Below it the passages do not speak of what was
# asked ("作者最喜欢什么颜色？": 0 of 喜欢, 颜色). docchat's five passages for the twelve
# filings' and the zh paper's answerable questions hold 0.4-1.0 of them; the bare gold pages
# of 7 of all 148 answerable questions hold less (trick questions such as "What drove gross
# margin change for JnJ?" over a page that never says "gross margin"), so higher would eat
# right answers.
MIN_QUESTION_SHARE = 0.2
MIN_QUESTION_TERMS = 2
# An answer to a yes/no question may restate the question after "Yes,".
_YES_NO = re.compile(r"^\W*(?:yes|no|是|否|不是|对|不对|没有|有)(?:\b|[，,。.])", re.IGNORECASE)
_YES_NO_WORDS = frozenset({"yes", "no", "不是", "没有", "不对"})  # single Chinese characters never count (_words)
_CJK_RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]+")
_FILE_NAME = re.compile(r"\S+\.(?:pdf|docx?|txt|md|html?)\b", re.IGNORECASE)
_LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9&'.-]*[A-Za-z0-9]|[A-Za-z]")

# Words any question about a filing, report or paper may use, whatever it asks about: that
# they are (or are not) on a page says nothing about whether the page speaks of the subject.
_GENERIC_EN = """
company companies corporation corporate firm firms business businesses group inc ltd report reports reported
filing filings statement statements document documents paper papers article study author authors page pages
section sections chapter table year years fiscal fy annual quarter quarterly period periods total totals amount
amounts number numbers value values figure figures much many name named percent percentage rate rates ratio
change changes increase increased decrease decreased growth average mean sum difference million millions
billion billions thousand thousands dollar dollars usd cent cents unit units summarize summarise summary
overview describe description explain explanation list tell give show main key kind kinds type types brief
briefly content contents topic topics use used using compare comparison answer question please state
round rounded decimal decimals place places define defined definition calculate calculation compute computed
respond response provide primarily base based basing judgment information assume assuming perspective analyst
detail details detailed outline outlined shown clear ask asked approximation approximate approximately
reasonable exact possible help want need metric metrics financial item items consider considering data
referencing reference conclusion conclusions drawing stated only extract result roughly format integer write
enumerate within slide title why like drive drove driven measure relevant useful meaningful profile overall one two three four five six
seven eight nine ten sentence sentences paragraph paragraphs word words bullet bullets point points short
long
"""
_GENERIC_ZH = """
公司 企业 报告 年度 年报 季度 总额 数量 多少 什么 哪个 哪些 哪位 哪家 哪里 论文 本文 文章 作者 这篇 名字 金额 比例
增长 变化 平均 多大 怎么 如何 是否 为什么 总结 概括 介绍 主要 内容 请用 中文 英文 文件 文档 研究 分析
"""


def _words(text: str) -> list[str]:
    """Content words; Chinese cut into words by jieba (as the keyword index does), single
    characters left out: 的, 从, 家 say nothing about where an answer came from, 增长 does."""
    words = content_words(_CJK_RUN.sub(" ", text))
    for run in _CJK_RUN.findall(text):
        words += [w for w in keyword_tokens(run) if len(w) > 1]
    return words


GENERIC_WORDS = frozenset(stem(w) for w in _GENERIC_EN.split()) | frozenset(_GENERIC_ZH.split())


def _has_digit(word: str) -> bool:
    """A figure or a word with digits ("1,138", "fy2021", "q4"): never a word a page must print."""
    return any(ch.isdigit() for ch in word)


def _stems(texts: Iterable[str]) -> set[str]:
    return {stem(w) for text in texts for w in _words(text)}


def added_words(answer: str, question: str) -> list[str]:
    """The answer's content words (stemmed) that the question does not already contain: "Yes, net
    earnings increased" adds nothing to "Did net earnings increase?"."""
    asked = {stem(w) for w in _words(question)}
    words = (stem(w) for w in _words(answer))
    return [w for w in words if w not in asked and w not in _YES_NO_WORDS]


def grounded_share(answer: str, question: str, passages: Sequence[str]) -> float | None:
    """Share of the answer's added words, figures and words with digits aside, found in the
    passages; a word any answer about a document uses (GENERIC_WORDS) counts only when found.

    None when the answer adds no word at all (a restated question); 1.0 when it adds only
    figures, or figures and generic words no page prints ("从1.012增长到1.033": the page says
    上升; the figures are what the answer drew from it). An answer of generic words alone that
    no page prints scores 0 ("… are described in [4].").
    """
    added = added_words(answer, question)
    if not added:
        return None
    words = [w for w in added if not _has_digit(w)]
    if not words:
        return 1.0
    known = _stems(passages)
    counted = [w for w in words if w not in GENERIC_WORDS or w in known]
    if not counted:
        return 1.0 if len(words) < len(added) else 0.0  # figures beside them, or nothing else
    return sum(w in known for w in counted) / len(counted)


# --- does any passage speak of what was asked? ----------------------------------------
def question_terms(question: str) -> set[str]:
    """The question's distinctive words, stemmed: content words less file names (a page
    does not print its file's name), figures, words with digits ("fy2023"), lone letters
    (the "s" of "company's") and the words any question about a document uses
    (GENERIC_WORDS)."""
    return {w for w in (stem(w) for w in _words(_FILE_NAME.sub(" ", question)))
            if len(w) > 1 and w not in GENERIC_WORDS and not _has_digit(w)}


def question_share(question: str, passages: Sequence[str]) -> float | None:
    """Share of the question's distinctive words found in some passage; None without any."""
    terms = question_terms(question)
    if not terms:
        return None
    known = _stems(passages)
    return sum(t in known for t in terms) / len(terms)


def _pinned(answer: str, question: str, passages: Sequence[str]) -> bool:
    """The answer states a figure or an acronym that the question asks about and a passage
    prints ("EBITDA", "1,138"): it answers from that passage, whatever else the question says."""
    text = " ".join(passages)
    shared = (figures(question) & figures(answer) & figures(text))
    acronyms = {w for w in _LATIN_WORD.findall(question) if len(w) > 1 and w.isupper()}
    return bool(shared) or any(a in answer and a in text for a in acronyms)


def speaks_of_question(answer: str, question: str, passages: Sequence[str]) -> bool:
    """False when the passages do not speak of what was asked: (almost) none of the
    question's distinctive words is on any of them, and the answer states no figure or
    acronym that ties the question to a passage. A question of one distinctive word is not
    judged: "Who is the presenter?" is answered by a slide that prints a name, not the word."""
    if len(question_terms(question)) < MIN_QUESTION_TERMS:
        return True
    return question_share(question, passages) >= MIN_QUESTION_SHARE or _pinned(answer, question, passages)


# --- a bare figure answers "how many X?" only from a page that speaks of X ---------------
_HOW_MANY = re.compile(r"\bhow\s+many\s+([^?.,;:!]+)", re.IGNORECASE)
_HOW_MANY_ZH = re.compile(r"(?:几|多少)[个家名位次项种条篇只辆台人座间本张杯场]([\u4e00-\u9fff]{2,8})")
# Where the counted thing's words end: "how many company cars | did ...", "how many steps | are".
_PHRASE_END = frozenset("""
did does do are is were was have has had can could will would should may might in of for on at from
that which who whom to by with per during since as than under over into across between there
""".split())
MAX_COUNTED_WORDS = 4
_NOT_COUNTED = frozenset({"time"})  # "how many times does X appear": occurrences, not a thing


def counted_thing(question: str) -> str | None:
    """The word (stemmed) naming what a "how many X?" / "几个X" question counts: the last word
    of X, its head ("company cars" → "car"); None for other questions and for a head any
    question uses ("how many pages", "how many times", GENERIC_WORDS): a page rarely prints it."""
    if found := _HOW_MANY.search(question):
        taken: list[str] = []
        for word in found.group(1).split():
            if word.lower() in _PHRASE_END or len(taken) == MAX_COUNTED_WORDS:
                break
            taken.append(word)
        words = [stem(w) for w in _words(" ".join(taken))]
    elif found := _HOW_MANY_ZH.search(question):
        words = _words(found.group(1))
    else:
        return None
    head = words[-1] if words else None
    return None if head is None or head in GENERIC_WORDS or head in _NOT_COUNTED else head


def _figure_only(answer: str, question: str) -> bool:
    """The answer adds figures to the question and no word: "[3] 582 [3] 282", "3 [1]"."""
    added = added_words(answer, question)
    return bool(added) and all(_has_digit(w) for w in added)


def counts_what_was_asked(answer: str, question: str, passages: Sequence[str]) -> bool:
    """False when a bare figure answers "how many X?", no passage that prints it (any
    passage, when the figure is too short to place) names X, and X is not all they miss of
    the question: a manual's numbered steps or a map's markers are counted without the word
    "steps" or "markers" on the page, but then the rest of the question is there ("replace
    the grille"); the J&J page that prints 582 lacks "cars", "lease" and "Iceland". A question
    that asks nothing but X ("作者有几个兄弟姐妹？") has no rest to vouch for the figure."""
    thing = counted_thing(question)
    if thing is None or not _figure_only(answer, question):
        return True
    stated = figures(answer)
    known = _stems([p for p in passages if stated & figures(p)] or passages)
    rest = question_terms(question) - {thing}
    return thing in known or bool(rest) and not rest - known


# --- an answer in one language over passages in the other ------------------------------
def cross_language(text: str, passages: Sequence[str]) -> bool:
    """True when the passages, read together, are in the other language than ``text``
    (Chinese or not): a Chinese paper's English abstract or references do not make it English."""
    return bool(passages) and is_chinese(text) != is_chinese(" ".join(passages))


def _shared_terms(answer: str, passages: Sequence[str]) -> tuple[int, int]:
    """(terms the answer states, of them printed in a passage), whatever the language: its
    figures (in any unit: "132亿美元" is a printed "$13.2 billion", rag/figures.py) and, in a
    Chinese answer, its Latin words (names, acronyms, terms: "Kenvue", "EBITDA"). An English
    answer's words are English words a Chinese page cannot print, its acronyms often
    translations ("CSMAR" for 国泰安): only its figures count."""
    stated = answer_figures(answer)
    found = len(stated) - len(unaccounted(answer, passages))
    if is_chinese(answer):
        latin = {w.lower() for w in _LATIN_WORD.findall(_CJK_RUN.sub(" ", answer))
                 if len(w) > 1 and w.lower() not in STOPWORDS}
        printed = {w.lower() for w in _LATIN_WORD.findall(" ".join(passages))}
        return len(stated) + len(latin), found + len(latin & printed)
    return len(stated), found


def _in_a_language(answer: str, question: str) -> str:
    """The text whose language the answer is in: the answer's own, or the question's when the
    answer has no words ("2[1]" to "作者有几个兄弟姐妹？" is in Chinese, not in English)."""
    return answer if any(ch.isalpha() for ch in MARK.sub(" ", answer)) else question


def cross_language_grounded(answer: str, passages: Sequence[str]) -> bool:
    """An answer whose words cannot match the passages' is kept unless it states figures or
    terms of which the passages print none (it cannot have read them there)."""
    stated, found = _shared_terms(answer, passages)
    return stated == 0 or found > 0


def is_grounded(answer: str, question: str, passages: Sequence[str]) -> bool:
    """False when the answer only restates the question (unless it answers yes or no), adds
    mostly words that none of ``passages`` contains, or answers a question the passages do
    not speak of (``speaks_of_question``, ``counts_what_was_asked``; when the question is in
    their language). An answer in the other language is judged by ``cross_language_grounded``
    alone."""
    if cross_language(_in_a_language(answer, question), passages):
        return cross_language_grounded(answer, passages)
    share = grounded_share(answer, question, passages)
    if share is None and not _YES_NO.match(answer):
        return False
    if share is not None and share < MIN_GROUNDED_SHARE:
        return False
    if cross_language(question, passages):
        return True
    return speaks_of_question(answer, question, passages) and counts_what_was_asked(answer, question, passages)
