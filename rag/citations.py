"""Inline citations that are true: [n] marks checked against the passages they point to.

The answer prompt numbers the passages [1]..[k] and asks for marks. After generation:
marks that point to no passage are removed (while streaming, so every client sees the
same text); each source says whether the answer cited it; each cited sentence is checked
against its passage, lexically (share of the sentence's content words found in the
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
_SENTENCE_END = re.compile(r"(?<=[.!?。！？；;])(?:\s*(?:\[\d[\d\s,，、]*\])+)?\s*")

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


def clean_marks(text: str, n_sources: int) -> str:
    """``text`` without marks that point to no passage (numbers outside 1..n_sources)."""

    def keep_valid(match: re.Match) -> str:
        valid = [n for n in _NUMBERS.findall(match.group(1)) if 1 <= int(n) <= n_sources]
        if not valid:
            return ""
        lead = " " if match.group(0).startswith((" ", "\n", "\t")) else ""
        return f"{lead}[{', '.join(valid)}]"

    return MARK.sub(keep_valid, text)


class MarkFilter:
    """Streams text through ``clean_marks``: a possible mark is held back until it closes.

    ``feed`` returns what can be shown now; ``flush`` what is left at the end.
    """

    def __init__(self, n_sources: int) -> None:
        self.n_sources = n_sources
        self._held = ""

    def feed(self, delta: str) -> str:
        text = self._held + delta
        partial = _PARTIAL_MARK.search(text)
        if partial:
            self._held, text = text[partial.start():], text[: partial.start()]
        else:
            self._held = ""
        return clean_marks(text, self.n_sources)

    def flush(self) -> str:
        held, self._held = self._held, ""
        return clean_marks(held, self.n_sources)


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
