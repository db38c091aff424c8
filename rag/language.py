"""Tell Chinese from other text, so prompts can speak the user's language."""

from __future__ import annotations

import re

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
