"""Section and page headings, found from the text alone, to give each chunk its context.

A chunk in the middle of a cash-flow statement holds rows of numbers but not the words
"cash flows"; a chunk of a manual's chapter does not repeat the chapter's name. The
heading of its page ("CONSOLIDATED STATEMENTS OF CASH FLOWS", a slide's title) and the
nearest section heading before it ("Item 8. Financial Statements", "3.2 Results",
"第二章 …") are what a question names, so they travel with every chunk as a prefix.
Plain rules on line shape, nothing specific to one kind of document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import takewhile

MAX_HEADING_CHARS = 90
HEAD_LINES = 4  # the page heading is searched among the first lines of a page
_LETTER = re.compile(r"[^\W\d_]")
_SECTION = re.compile(
    r"^(?:item\s+\d{1,2}[a-z]?\b\.?"  # 10-K / 10-Q items
    r"|part\s+[ivx]+\b"  # PART II
    r"|(?:chapter|section|appendix)\s+[\w.]+"
    r"|\d{1,2}(?:\.\d{1,2}){0,3}\.?\s*[A-Z\u4e00-\u9fff]"  # 3.2 Results, 1 引言
    r"|第[一二三四五六七八九十百\d]+[章节部分篇]"  # 第二章
    r"|[一二三四五六七八九十]+、)",
    re.IGNORECASE,
)
_NOISE = re.compile(r"^(?:table of contents|index|contents|page\s*\d+(?:\s*of\s*\d+)?|\d+|[ivx]+)$", re.IGNORECASE)

# "Item 7. Management's Discussion 32": a table-of-contents entry, not a heading.
_PAGE_REFERENCE = re.compile(r"[^\W\d_][^\d]*\s\d{1,3}$")
TOC_MIN_SECTIONS = 4  # a page with this many section headings is a table of contents


@dataclass(frozen=True)
class PageContext:
    section: str  # nearest section heading at or before the page's start
    heading: str  # the page's own heading (may be empty)
    # The open headings above the page's start, outermost first: ("PART II", "Item 7. …"),
    # ("3 Method", "3.2 Sampling"). A heading closes the ones at its level and below.
    path: tuple[str, ...] = ()


_PART = re.compile(r"^part\s+[ivx]+\b", re.IGNORECASE)
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s*\S")


def heading_level(line: str) -> int:
    """Depth of a section heading: PART 0; Item, Chapter, 第…章, "3" 1; "3.2" 2; "3.2.1" 3."""
    if _PART.match(line):
        return 0
    numbered = _NUMBERED.match(line)
    if numbered and not re.match(r"^\d{4}\s", line):
        return 1 + numbered.group(1).count(".")
    if re.match(r"^第[一二三四五六七八九十百\d]+[节]", line):
        return 2
    return 1


def _open(path: tuple[str, ...], levels: tuple[int, ...], heading: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
    level = heading_level(heading)
    keep = len(list(takewhile(lambda outer: outer < level, levels)))
    return path[:keep] + (heading,), levels[:keep] + (level,)


def _clean(line: str) -> str:
    return " ".join(line.split())


def _headingish(line: str) -> bool:
    """Short, has letters, is not a sentence or a table row, is not page furniture."""
    if not (3 <= len(line) <= MAX_HEADING_CHARS) or not _LETTER.search(line) or _NOISE.match(line):
        return False
    if line.endswith((".", ",", ";", ":", "：")) or " | " in line or any(p in line for p in "，；。"):
        return False
    return not _PAGE_REFERENCE.search(line)


def _upper_share(line: str) -> float:
    letters = [c for c in line if c.isalpha() and c.isascii()]
    return sum(c.isupper() for c in letters) / len(letters) if letters else 0.0


def is_section_heading(line: str) -> bool:
    line = _clean(line)
    return _headingish(line) and bool(_SECTION.match(line)) and not re.match(r"^\d{4}\s", line)


def page_heading(text: str) -> str:
    """Upper-case heading lines among the page's first lines (joined), else its first short line."""
    lines = [_clean(line) for line in text.split("\n") if line.strip()][:HEAD_LINES]
    upper = [line for line in lines if _headingish(line) and _upper_share(line) >= 0.8 and len(line) >= 6]
    if upper:
        return " ".join(upper[:2])
    for line in lines[:2]:
        if _headingish(line) and len(line.split()) <= 12:
            return line
    return ""


def page_contexts(texts: list[str]) -> list[PageContext]:
    """One PageContext per page; a section heading carries on until the next one."""
    contexts: list[PageContext] = []
    section = ""
    path: tuple[str, ...] = ()
    levels: tuple[int, ...] = ()
    for text in texts:
        lines = [_clean(line) for line in text.split("\n") if line.strip()]
        found = [line for line in lines if is_section_heading(line)]
        if len(found) >= TOC_MIN_SECTIONS:  # a table of contents names sections, it is in none of them
            found = []
        at_start = next((line for line in lines[:HEAD_LINES] if line in found), None)
        page_path, page_levels = path, levels
        for line in found[: found.index(at_start) + 1] if at_start else []:
            page_path, page_levels = _open(page_path, page_levels, line)
        contexts.append(PageContext(at_start or section, page_heading(text), page_path))
        for line in found:
            path, levels = _open(path, levels, line)
        if found:
            section = found[-1]
    return contexts


def context_prefix(title: str, context: PageContext) -> str:
    """'title | section | page heading' without empty or repeated parts."""
    parts: list[str] = []
    for part in (title, context.section, context.heading):
        if part and all(part.lower() not in p.lower() for p in parts):
            parts.append(part)
    return " | ".join(parts)
