"""Turn raw pypdf page text into clean text worth embedding. Pure functions.

pypdf output has typical artefacts: words hyphenated across line breaks, Chinese
sentences broken mid-word at every visual line end, CJK runs spaced out character by
character, ligatures and math italics (𝐷𝐼𝐷𝐹) as compatibility code points, and the same
header/footer line on every page. Each of them hurts both BM25 and the embeddings.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

# CJK ideographs, kana, hangul and full-width/CJK punctuation.
_CJK = r"\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
_CJK_CHAR = f"[{_CJK}]"
# Chinese punctuation that NFKC would turn into ASCII; kept so Chinese text still reads
# as Chinese and sentence ends (！？；) stay visible to the splitter.
_KEEP_FULL_WIDTH = "，！？；：（）"
_NOT_KEPT = re.compile(f"[^{_KEEP_FULL_WIDTH}]+")

_HYPHENATED_BREAK = re.compile(r"([A-Za-z])-\n[ \t]*([a-z])")
# A line break with no space before it, between two CJK characters: a soft wrap.
_CJK_SOFT_WRAP = re.compile(f"({_CJK_CHAR})\n(?={_CJK_CHAR})")
# Three or more single CJK characters separated by single spaces: "数 字 金 融".
_SPACED_CJK_RUN = re.compile(f"{_CJK_CHAR}(?: {_CJK_CHAR}){{2,}}(?!{_CJK_CHAR})")
_SPACE_BEFORE_CJK_PUNCT = re.compile(f"(?<={_CJK_CHAR}) +(?=[，。！？；：、）】》”])")
_TRAILING_SPACES = re.compile(r"[ \t]+\n")
_RUNS_OF_SPACES = re.compile(r"[ \t\u00a0]{2,}")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
_DIGITS = re.compile(r"\d+")
_LETTERS = re.compile(r"[^\W\d_]")
EDGE_LINES = 2


def normalize_unicode(text: str) -> str:
    """NFKC (ligatures, full-width letters/digits, math italics → ASCII) except Chinese punctuation."""
    return _NOT_KEPT.sub(lambda m: unicodedata.normalize("NFKC", m.group()), text)


def _unspace_cjk_run(match: re.Match[str]) -> str:
    return match.group().replace(" ", "")


def clean_page_text(text: str) -> str:
    """Clean one page of pypdf text; keeps line structure (the splitter uses it)."""
    text = normalize_unicode(text.replace("\r\n", "\n").replace("\r", "\n"))
    text = text.replace("\x00", "")
    text = _HYPHENATED_BREAK.sub(r"\1\2", text)
    text = _CJK_SOFT_WRAP.sub(r"\1", text)
    text = _SPACED_CJK_RUN.sub(_unspace_cjk_run, text)
    text = _SPACE_BEFORE_CJK_PUNCT.sub("", text)
    text = _TRAILING_SPACES.sub("\n", text)
    text = _RUNS_OF_SPACES.sub(" ", text)
    text = _MANY_BLANK_LINES.sub("\n\n", text)
    return text.strip()


def _line_key(line: str) -> str:
    return " ".join(line.lower().split())


def _numbered_key(line: str) -> str:
    """Header/footer lines that differ only in numbers ("Page 3", "Page 4") share this key."""
    return _DIGITS.sub("#", _line_key(line))


def _keys(page: str) -> set[str]:
    """Exact keys of every line with letters; number-blind keys only for the 2 first/last lines.

    Number-blind matching is limited to the page edges (where headers and footers sit),
    so body lines such as "Total revenue 17,606" are never taken for a footer.
    """
    lines = [line for line in page.splitlines() if _LETTERS.search(line)]
    keys = {_line_key(line) for line in lines}
    keys.update("#" + _numbered_key(line) for line in lines[:EDGE_LINES] + lines[-EDGE_LINES:])
    return keys


def drop_repeated_lines(pages: list[str], min_share: float = 0.5, min_pages: int = 3) -> list[str]:
    """Remove header/footer lines: lines with letters found on at least ``min_share`` of the pages.

    Cheap on purpose: no layout analysis. Lines without letters (table figures, page
    numbers) are never dropped, so financial tables keep their numbers.
    """
    if len(pages) < min_pages:
        return list(pages)
    counts: Counter[str] = Counter()
    for page in pages:
        counts.update(_keys(page))
    threshold = max(min_pages, min_share * len(pages))
    repeated = {key for key, n in counts.items() if n >= threshold}
    if not repeated:
        return list(pages)
    cleaned = []
    for page in pages:
        lines = page.splitlines()
        with_letters = [i for i, line in enumerate(lines) if _LETTERS.search(line)]
        edges = set(with_letters[:EDGE_LINES] + with_letters[-EDGE_LINES:])
        kept = [
            line for i, line in enumerate(lines)
            if _line_key(line) not in repeated and not (i in edges and "#" + _numbered_key(line) in repeated)
        ]
        cleaned.append("\n".join(kept).strip())
    return cleaned


def clean_pages(pages: list[str]) -> list[str]:
    """Clean every page, then drop the header/footer lines they share."""
    return drop_repeated_lines([clean_page_text(page) for page in pages])
