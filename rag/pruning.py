"""Fewer prompt tokens for the same answer: what of each retrieved passage the model is sent.

On two CPU cores the 1.5B model reads ~80 prompt tokens a second, and five whole passages
make most of a ~1,800-token prompt. Most of a passage does not bear on the question: a
statement table's other rows, a paragraph's other sentences. Extractive compressors
(RECOMP, Provence) keep the sentences that matter; a CPU cannot afford a learned one, but
a cheap one needs only what this module does:

* a passage is cut into units (rag/passage_units.py): table rows ("label: v | v",
  rag/tables.py), labels and other short lines one by one, prose into sentences;
* each unit scores the BM25-style weight (idf over the units of all passages sent) of the
  question's words it carries, stemmed, plus the printed labels of the line items the
  question names (rag/metric_definitions.py), as plain strings;
* the best units are kept with what makes them readable: a statement's header lines
  (title, scale line "(In millions)", "单位：万元", column years), the group label above
  a row ("Cash flows from investing activities:"), a sentence's neighbours, the items a
  matching heading introduces, and every row of a list the question compares ("which
  region had the highest …");
* a passage nothing in the question matches keeps its start: dense retrieval found it
  for a reason words cannot show, and a passage is never sent empty.

And how many passages: only a tail scoring far below the first is dropped (fused scores
are rank based and close together; passages_to_send says what was measured), so the
numbers [1..m] the model cites still name the same sources. The sources panel and
the page viewer show whole passages: only the prompt is shorter. Pure functions.
"""

from __future__ import annotations

import functools
import math
import re
import threading
from collections.abc import Mapping, Sequence

import snowballstemmer

from rag.keyword_index import tokenize as keyword_tokens
from rag.passage_units import Unit, is_heading, join_pieces, run_of, split_units, table_heading
from rag.types import Source

# A kept passage stops growing past this many characters (whole passages run to ~700;
# format_context clips at 1,500).
BUDGET_CHARS = 600
# A unit is kept when it scores at least this share of its passage's best unit.
KEEP_SHARE = 0.5
# ... and at least this share of the passage's best unit of any kind.
MIN_SHARE = 0.25
# Keeping most of a passage saves little and reads worse: then the passage goes whole.
WHOLE_SHARE = 0.85
# A passage whose fused score is below this share of the first passage's is not sent (tail only).
SEND_SHARE = 0.5
# A passage no question word matches keeps this much of its start.
NO_MATCH_CHARS = 300
GAP = "…"  # where units were left out

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_RUNS = re.compile(r"[a-z]+|\d+")
# A question that compares ("which region had the highest …", "最大的") needs every row or
# item of the list it compares, not only those that carry its words.
_COMPARES = re.compile(
    r"\b(?:high|low|larg|small|bigg|great|fast|slow)est\b|\b(?:most|least|best|worst|top|rank\w*|maximum|minimum|"
    r"compar\w*)\b|最|排名|比较|哪个|哪一|哪些",
    re.IGNORECASE,
)
_GIST = re.compile(
    r"\bsummar|\boverview\b|\bgist\b|\bmain (?:points|ideas|findings|topics)\b|\babout\?\s*$|\bkey takeaways\b"
    r"|总结|概括|概述|摘要|主要内容|讲了什么|讲的是什么|是关于什么",
    re.IGNORECASE,
)
LIST_ITEMS = 20  # a matching "… as follows:" brings at most this many items after it


# --- words ---------------------------------------------------------------------------
_STEMMERS = threading.local()  # a Snowball stemmer keeps its word in itself: one per thread


@functools.lru_cache(maxsize=65536)
def _stem(word: str) -> str:
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)


# How questions ask, not what they ask about: the keyword index's stopwords keep these.
QUESTION_WORDS = frozenset(
    "what how did does do which who whom whose when where why much many were according based "
    "answer give provide round shown fy usd amount".split()
)


def terms(text: str) -> set[str]:
    """Stemmed words of ``text`` without stopwords; "FY2022" gives "fy" and "2022"; Chinese
    words of two or more characters as jieba cuts them (one character says too little)."""
    out: set[str] = set()
    for token in keyword_tokens(text):
        if token in QUESTION_WORDS:
            continue
        if _CJK.search(token):
            if len(token) > 1:
                out.add(token)
        else:
            out.update(_stem(run) for run in _RUNS.findall(token)
                       if (len(run) > 1 or run.isdigit()) and run not in QUESTION_WORDS)
    return out


def _matches(term: str, unit_terms: set[str], unit_text: str) -> bool:
    """A Chinese word is looked for in the text itself: jieba may cut a table row's run
    differently from the question's."""
    return term in unit_terms or (bool(_CJK.search(term)) and term in unit_text)


# --- what a unit needs to be read ------------------------------------------------------
def _readable(units: Sequence[Unit], scores: Sequence[float], i: int, compares: bool = False) -> list[int]:
    """What unit ``i`` needs to be read, nearest first: a row its group label above; a label
    or a heading the items it introduces ("… by revenue category were as follows:", a
    slide's title; a table's rows only when the question names none of them); a sentence
    or a list item its neighbours. When the question ``compares``, a row or item brings
    the rest of its table or list."""
    unit = units[i]
    if unit.kind == "row":
        label = []
        for j in range(i - 1, -1, -1):
            if units[j].kind == "label":
                label = [j]
            if units[j].kind != "row":
                break
        return label + (run_of(units, i, "row", LIST_ITEMS) if compares else [])
    if unit.kind == "label" or is_heading(unit):
        following = []
        for j in range(i + 1, min(len(units), i + 1 + LIST_ITEMS)):
            if units[j].kind == "label":
                break
            following.append(j)
        rows = [j for j in following if units[j].kind == "row"]
        if not compares and any(scores[j] > 0 for j in rows):  # the question names rows: those are kept
            following = [j for j in following if units[j].kind != "row"]
        return following
    if unit.kind == "sentence":
        return [j for j in (i - 1, i + 1) if 0 <= j < len(units) and units[j].block == unit.block]
    if compares:
        return run_of(units, i, "line", LIST_ITEMS)
    return [j for j in (i - 1, i + 1) if 0 <= j < len(units) and units[j].kind == "line"]


# --- weights -------------------------------------------------------------------------
def term_weights(question: str, texts: Sequence[str], extra_terms: Sequence[str] = ()) -> dict[str, float]:
    """BM25's idf of each question term over the units of ``texts`` (the passages sent):
    a word in every row ("2022", "million") weighs little, a line item's word much."""
    wanted = terms(question).union(*(terms(t) for t in extra_terms)) if extra_terms else terms(question)
    units = [(terms(u.text), u.text) for text in texts for u in split_units(text)]
    n = max(len(units), 1)
    weights = {}
    for term in wanted:
        df = sum(_matches(term, unit_terms, unit_text) for unit_terms, unit_text in units)
        weights[term] = math.log(1 + (n - df + 0.5) / (df + 0.5))
    return weights


def _score(unit: Unit, weights: Mapping[str, float], asked: set[str], labels: Sequence[set[str]]) -> float:
    """The weight of the question's words in the unit, plus that of the best line-item label
    printed whole in it. A label counts only whole: its single words ("income", "net",
    "total") are in half the rows of a statement."""
    unit_terms = terms(unit.text)
    score = sum(weights.get(t, 0.0) for t in asked if _matches(t, unit_terms, unit.text))
    printed = [sum(weights.get(t, 0.0) for t in label) for label in labels
               if label and all(_matches(t, unit_terms, unit.text) for t in label)]
    return score + max(printed, default=0.0)


# --- one passage ---------------------------------------------------------------------
def prune_passage(question: str, text: str, extra_terms: Sequence[str] = (), budget_chars: int = BUDGET_CHARS,
                  weights: Mapping[str, float] | None = None) -> str:
    """The part of ``text`` the question needs, in the passage's order, "…" where units were
    left out. ``weights`` (term_weights over all passages sent) default to this passage's
    own; ``extra_terms``: labels of the line items the question names. Never empty: a
    passage nothing matches keeps its start."""
    units = split_units(text)
    if not units:
        return text.strip()
    if weights is None:
        weights = term_weights(question, [text], extra_terms)
    asked, labels = terms(question), [terms(t) for t in extra_terms]
    scores = [_score(u, weights, asked, labels) for u in units]
    if max(scores) <= 0:
        chosen = _fill(units, scores, range(len(units)), min(budget_chars, NO_MATCH_CHARS))
    else:
        order = sorted(_matching(units, scores), key=lambda i: (-scores[i], i))
        chosen = _fill(units, scores, order, budget_chars, with_neighbours=True,
                       compares=bool(_COMPARES.search(question)))
    if any(units[i].kind == "row" for i in chosen):  # the rows are read by their table's heading
        chosen |= table_heading(units)
    kept_chars = sum(len(units[i].text) for i in chosen)
    if kept_chars >= WHOLE_SHARE * sum(len(u.text) for u in units):
        return text.strip()
    return _render(units, sorted(chosen))


def _matching(units: Sequence[Unit], scores: Sequence[float]) -> list[int]:
    """Units scoring at least KEEP_SHARE of the best of their kind: table rows, prose
    sentences and short lines compete apart, or a long sentence or a heading repeating the
    question's words would push out the short row that holds its figure ("Subscription
    $ 16,388 ...", "1. Little Rock AR01"). A unit far below the passage's best (MIN_SHARE)
    is left out whatever its kind."""
    best = max(scores)
    best_of: dict[str, float] = {}
    for unit, score in zip(units, scores):
        best_of[_group(unit)] = max(best_of.get(_group(unit), 0.0), score)
    return [i for i, (u, s) in enumerate(zip(units, scores))
            if s > 0 and s >= KEEP_SHARE * best_of[_group(u)] and s >= MIN_SHARE * best]


def _group(unit: Unit) -> str:
    return "line" if unit.kind == "label" else unit.kind


def _fill(units: Sequence[Unit], scores: Sequence[float], order: Sequence[int], budget: int,
          with_neighbours: bool = False, compares: bool = False) -> set[int]:
    """Units in ``order`` while they fit ``budget`` (the first one always), each followed by
    what makes it readable, nearest first, as far as that fits too."""
    chosen: set[int] = set()
    used = 0
    for n, i in enumerate(order):
        if i not in chosen:
            if n > 0 and used + len(units[i].text) > budget:
                if not with_neighbours:
                    break  # the start of the passage: one piece, not the bits that still fit
                continue
            chosen.add(i)
            used += len(units[i].text)
        for j in _readable(units, scores, i, compares) if with_neighbours else ():
            if j not in chosen and used + len(units[j].text) <= budget:
                chosen.add(j)
                used += len(units[j].text)
    return chosen


def _render(units: Sequence[Unit], chosen: Sequence[int]) -> str:
    """Lines on lines, sentences of one block on one line, "…" for every gap."""
    parts: list[str] = []
    previous = None
    for i in chosen:
        unit = units[i]
        if previous is not None and i != previous + 1:
            parts.append(GAP)
        elif previous is None and i > 0:
            parts.append(GAP)
        joined = (previous is not None and i == previous + 1 and unit.kind == "sentence"
                  and units[previous].kind == "sentence" and units[previous].block == unit.block)
        if joined:
            parts[-1] = join_pieces(parts[-1], unit.text)
        else:
            parts.append(unit.text)
        previous = i
    if previous is not None and previous < len(units) - 1:
        parts.append(GAP)
    return "\n".join(parts)


# --- the passages of one prompt ------------------------------------------------------
def passages_to_send(sources: Sequence[Source], share: float = SEND_SHARE) -> int:
    """How many of ``sources`` (best first) go into the prompt: the first always, then every
    one up to the last scoring at least ``share`` of the first. Only the tail is dropped, so
    passage [n] is source n either way.

    Fused (rank) scores separate little: on the twelve filings the fifth passage scores
    0.65-0.91 of the first, and the gold page is only the fourth or fifth passage in 7 of
    the 19 questions that find it (at 0.87-0.92 of the first). So only a far weaker tail
    goes (a reranker's scores, a single list's late hit); the tokens are saved by pruning
    each passage."""
    if not sources:
        return 0
    top = sources[0].score
    if top <= 0:
        return len(sources)
    return max(1, max(n for n, s in enumerate(sources, start=1) if s.score >= share * top))


def prompt_passages(question: str, sources: Sequence[Source], extra_terms: Sequence[str] = (),
                    at_least: int = 0) -> list[str]:
    """The text to send for each passage that goes into the prompt ([1]..[m], m <= len(sources));
    at least ``at_least`` of them (a calculation prepared from passage [4] keeps [4]).

    A question that asks for the gist ("summarise …", "what is this paper about?", "总结")
    gets its passages whole: no sentence of them bears on it more than another."""
    sent = sources[: max(passages_to_send(sources), at_least)]
    texts = [s.text for s in sent]
    if _GIST.search(question):
        return texts
    weights = term_weights(question, texts, extra_terms)
    return [prune_passage(question, text, extra_terms, weights=weights) for text in texts]
