"""Tell Chinese from other text, so prompts can speak the user's language; English words by their stems."""

from __future__ import annotations

import functools
import re
import threading

import snowballstemmer

_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


def is_chinese(text: str) -> bool:
    """True when CJK ideographs make up a noticeable share of the letters in ``text``.

    A threshold rather than "any CJK character" keeps an English question that quotes
    one Chinese name in English.
    """
    if not text:
        return False
    cjk = len(_CJK.findall(text))
    letters = sum(ch.isalpha() for ch in text)
    return cjk > 0 and cjk >= 0.2 * max(letters, 1)


_STEMMERS = threading.local()  # a Snowball stemmer keeps its word in itself: one per thread


@functools.lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """One English word, whatever its inflection ("increased" and "increase", "spreading" and
    "spread", "millions" and "million"): Snowball's English stemmer; a non-ASCII word as it is."""
    if not word.isascii():
        return word
    stemmer = getattr(_STEMMERS, "english", None)
    if stemmer is None:
        stemmer = _STEMMERS.english = snowballstemmer.stemmer("english")
    return stemmer.stemWord(word)
