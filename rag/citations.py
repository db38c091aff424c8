"""Inline citations that are true: [n] marks checked against the passages they point to.

The answer prompt numbers the passages [1]..[k] and asks for marks. After generation:
marks that point to no passage are removed, and a mark whose sentence gives figures that
its passage lacks but another passage prints is moved to that passage (both while
streaming, so every client sees the same text); each source says whether the answer cited
it; each cited sentence is checked against its passage, lexically (share of the sentence's content words found in the
passage) and by embedding similarity, and a sentence that neither supports is flagged
``supported: false`` ("not found on the cited page").
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from typing import Any, Sequence

import numpy as np

from rag.positions import tokenize
from rag.types import Source

logger = logging.getLogger(__name__)

# "[1]", "[1, 2]", "[1][3]" (two marks), "[2，3]" (Chinese comma).
MARK = re.compile(r"\s?\[(\d{1,3}(?:\s*[,，、]\s*\d{1,3})*)\]")
_NUMBERS = re.compile(r"\d{1,3}")
# The end of a streamed text that may still become a mark: a space (dropped along with
# a dangling mark), "[" and what may follow it inside a mark.
_PARTIAL_MARK = re.compile(r"\s?(?:\[[\d\s,，、]{0,16})?$")
_END_CHARS = ".!?;。！？；"
_MARK_RUN = r"(?:\s*\[\d[\d\s,，、]*\])+"  # "[1]", " [1][3]", "[2, 5]"
# A Latin full stop ends a sentence only before a space, a mark or the end ("3.47" and
# "U.S." go on); a Chinese one always.
_SENTENCE_END = re.compile(rf"(?:(?<=[.!?;])(?=[\s\[]|$)|(?<=[。！？；]))(?:{_MARK_RUN})?\s*")
# Where a claim ends, for finding the sentence a mark belongs to ("24.6" is no full stop).
_CLAIM_END = re.compile(r"[.!?;](?=\s)|[。！？；\n]")
_TRAILING_MARKS = re.compile(rf"{_MARK_RUN}\s*$")
# A figure: "12,645", "$13.2", "24.6%", "增长85.7%"; not the digits inside "FY2021" or "Q4".
_FIGURE = re.compile(r"(?<![A-Za-z0-9_.])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?(?![A-Za-z0-9_])")

# A sentence is supported when most of its content words are in the passage, or when
# it paraphrases the passage closely (MiniLM cosine; unrelated text scores ~0.1-0.3).
MIN_LEXICAL = 0.5
MIN_SIMILARITY = 0.6
STOPWORDS = frozenset(
    "a an the and or but if of to in on at by for with from as is are was were be been being it its this that "
    "these those there their they them he she his her we our you your i me my not no so than then which who "
    "what when where how also can could may might will would should has have had do does did into about over "
    "such per each any all some more most other only same very just according passage context document "
    "的 了 是 在 和 与 及 也 就 都 而 或 一 个 这 那 其 之 为 有".split()
)


def mark_numbers(text: str) -> list[int]:
    """The passage numbers cited in ``text``, in order of first appearance."""
    found: list[int] = []
    for match in MARK.finditer(text):
        for number in _NUMBERS.findall(match.group(1)):
            if int(number) not in found:
                found.append(int(number))
    return found


def figures(text: str) -> set[str]:
    """The figures a sentence or passage states, as written without thousands separators
    ("12,645" and "12645" are one figure). Marks, years and single digits are left out:
    every passage of a filing prints "2022", and "1" says nothing about where a claim came from."""
    found = set()
    for match in _FIGURE.finditer(MARK.sub(" ", text)):
        whole, decimals = match.group(1).replace(",", ""), match.group(2)
        if not decimals and (len(whole) < 2 or (len(whole) == 4 and 1900 <= int(whole) <= 2100)):
            continue
        found.add(f"{whole}.{decimals}" if decimals else whole)
    return found


def best_source(cited: list[int], claim: str, passage_figures: Sequence[set[str]]) -> list[int]:
    """The passage numbers a mark should carry. ``cited`` when the cited passages print every
    figure of the claim that any passage prints; else the cited passages that print some of
    them, plus the best-ranked passages that print the rest (a small model often writes [3]
    for a figure it read in [1], or cites one passage for two years read in two)."""
    wanted = figures(claim) & set().union(*passage_figures)
    have = set().union(*(passage_figures[n - 1] for n in cited)) & wanted
    if have == wanted:
        return cited
    chosen = [n for n in cited if passage_figures[n - 1] & wanted]
    missing = wanted - have
    while missing:  # greedy cover; max() keeps the first (best-ranked) of equals
        n = max(range(1, len(passage_figures) + 1), key=lambda i: len(passage_figures[i - 1] & missing))
        chosen.append(n)
        missing -= passage_figures[n - 1]
    return sorted(chosen)


def _claim_before(text: str) -> str:
    """The claim a mark at the end of ``text`` belongs to: the text since the last sentence
    end or the last earlier mark, whichever is later ("A was 5 [1] and B 7 [2]" gives [2]
    " and B 7"). Marks right before it and a full stop just before them belong to the same
    claim ("... is 12,645. [1][3]")."""
    body = _TRAILING_MARKS.sub("", text).rstrip()
    body = body[:-1] if body.endswith(tuple(_END_CHARS)) else body
    starts = [m.end() for m in _CLAIM_END.finditer(body)] + [m.end() for m in MARK.finditer(body)]
    return body[max(starts):] if starts else body


def clean_marks(text: str, n_sources: int, passage_figures: Sequence[set[str]] = (), before: str = "") -> str:
    """``text`` without marks that point to no passage (numbers outside 1..n_sources), each
    kept mark moved to the passages that print its claim's figures (``best_source``) when
    ``passage_figures`` (``figures`` of each passage, in [n] order) is given; a moved mark
    that repeats the marks right before it is dropped. ``before`` is the text already shown,
    where a claim that ends in ``text`` may have begun."""
    out, end = [], 0
    for match in MARK.finditer(text):
        out.append(text[end:match.start()])
        end = match.end()
        valid = [int(n) for n in _NUMBERS.findall(match.group(1)) if 1 <= int(n) <= n_sources]
        if valid and passage_figures:
            shown = before + "".join(out)
            moved = best_source(valid, _claim_before(shown), passage_figures)
            if moved != valid and set(moved) <= set(mark_numbers(_trailing_marks(shown))):
                continue
            valid = moved
        if valid:
            lead = " " if match.group(0).startswith((" ", "\n", "\t")) else ""
            out.append(f"{lead}[{', '.join(map(str, valid))}]")
    out.append(text[end:])
    return "".join(out)


def _trailing_marks(text: str) -> str:
    found = _TRAILING_MARKS.search(text)
    return found.group(0) if found else ""


class MarkFilter:
    """Streams text through ``clean_marks``: a possible mark is held back until it closes.

    ``feed`` returns what can be shown now; ``flush`` what is left at the end. Given the
    passages' texts, marks are also moved to the passage that prints their figures.
    """

    def __init__(self, n_sources: int, passages: Sequence[str] = ()) -> None:
        self.n_sources = n_sources
        self._figures = [figures(p) for p in passages]
        self._held = ""
        self._shown = ""  # the text shown so far (its end), where a held mark's claim began

    def feed(self, delta: str) -> str:
        text = self._held + delta
        partial = _PARTIAL_MARK.search(text)
        if partial:
            self._held, text = text[partial.start():], text[: partial.start()]
        else:
            self._held = ""
        return self._show(text)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return self._show(held)

    def _show(self, text: str) -> str:
        out = clean_marks(text, self.n_sources, self._figures, self._shown)
        self._shown = (self._shown + out)[-2000:]  # enough for any one sentence
        return out


def split_sentences(text: str) -> list[str]:
    """Sentences, each keeping the marks that follow its full stop ("... dynasty. [1]")."""
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if match.end() > start and match.end() - start > 1:
            pieces.append(text[start:match.end()].strip())
            start = match.end()
    if text[start:].strip():
        pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def content_words(text: str) -> list[str]:
    return [t for t, _, _ in tokenize(MARK.sub(" ", text)) if t not in STOPWORDS]


def lexical_support(sentence: str, passage: str) -> float:
    """Share of the sentence's content words that occur in the passage (1.0 for none)."""
    words = content_words(sentence)
    if not words:
        return 1.0
    passage_words = set(content_words(passage))
    return sum(w in passage_words for w in words) / len(words)


def cite_unmarked(text: str, passages: Sequence[str]) -> str:
    """An answer that cites nothing, with each sentence's mark added where one passage backs it.

    Small models forget the marks now and then ("高成长性组：10家 低成长性组：20家"); a reader
    then cannot check the answer against its page. A sentence gets ``[n]`` of the first passage
    holding the most of its content words, when that is at least MIN_LEXICAL of them and the
    passage prints every figure the sentence states; a sentence no passage backs stays
    unmarked (and unchecked). An answer with any mark is left as the model wrote it.
    """
    if not passages or MARK.search(text):
        return text
    passage_figures = [figures(p) for p in passages]
    out, start = [], 0
    ends = [m.end() for m in _SENTENCE_END.finditer(text)] + [len(text)]
    for end in ends:
        piece = text[start:end]
        if not piece.strip():
            continue
        body = piece.rstrip()
        stated = figures(body)
        scores = [lexical_support(body, p) if stated <= f else 0.0 for p, f in zip(passages, passage_figures)]
        best = max(range(len(passages)), key=lambda i: scores[i])
        if content_words(body) and scores[best] >= MIN_LEXICAL:
            claim = body[:-1] if body[-1] in _END_CHARS else body  # the mark goes before the full stop
            space = "" if re.search(r"[\u3400-\u9fff：，]$", claim) else " "
            piece = f"{claim}{space}[{best + 1}]{body[len(claim):]}{piece[len(body):]}"
        out.append(piece)
        start = end
    return "".join(out)


def _cosines(embedder: Any, sentences: list[str], passages: list[str]) -> list[float]:
    vectors = np.asarray(embedder.embed_documents(sentences + passages), dtype=np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-9
    half = len(sentences)
    return [float(a @ b) for a, b in zip(vectors[:half], vectors[half:])]


def annotate(text: str, sources: Sequence[Source], embedder: Any | None = None) -> list[Source]:
    """Copies of ``sources`` with ``cited``, ``supported`` and per cited sentence ``claims``.

    ``supported`` is None for an uncited source, else whether every sentence citing it
    is backed by its passage. Without an embedder only the lexical check runs.
    """
    out = [replace(s, cited=False, supported=None, claims=[]) for s in sources]
    pairs: list[tuple[str, int]] = []
    for sentence in split_sentences(text):
        for number in mark_numbers(sentence):
            if 1 <= number <= len(out):
                pairs.append((MARK.sub("", sentence).strip(), number - 1))
    if not pairs:
        return out
    similarities = [0.0] * len(pairs)
    if embedder is not None:
        try:
            similarities = _cosines(embedder, [s for s, _ in pairs], [out[i].text for _, i in pairs])
        except Exception as exc:  # the check must never cost the answer
            logger.warning("embedding support check failed: %s", exc)
    for (sentence, index), similarity in zip(pairs, similarities):
        lexical = lexical_support(sentence, out[index].text)
        supported = lexical >= MIN_LEXICAL or similarity >= MIN_SIMILARITY
        source = out[index]
        source.cited = True
        source.claims.append({"sentence": sentence, "supported": supported,
                              "lexical": round(lexical, 3), "similarity": round(similarity, 3)})
        source.supported = supported if source.supported is None else (source.supported and supported)
    return out
