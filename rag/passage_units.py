"""A retrieved passage as units the prompt can keep or leave out (rag/pruning.py).

A passage's text is the page's own lines: statement rows written "label: v | v" by
rag/tables.py, headings, list items, and prose wrapped at the width of its column. The
units are its table rows, labels ("Cash flows from investing activities:"), short lines
(headings, items, a statement's title and column years) one by one, and its prose cut
into sentences. Which line is prose is judged against the passage's own column width: a
two-column paper's lines are ~50 characters, a 10-K's ~150. Pure functions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

# A line ending in a value ("Net income 596", "Total 1,234.5%"), not in a year ("December 31, 2022").
_ROW_TAIL = re.compile(r"(?:[$€£¥]\s?)?\(?[-−]?\d(?:[\d,]*\d)?(?:\.\d+)?\)?(?:\s?%)?\s*$|\s[—–-]\s*$")
_YEAR_TAIL = re.compile(r"(?<![\d,.])(?:19|20)\d\d\s*$")
_SCALE = re.compile(
    r"\bin (?:millions|thousands|billions)\b|\bexcept (?:per[- ]share|share)\b|\((?:dollars |amounts |\$ )?in "
    r"|单位|[万千百亿]元|人民币元|百万",
    re.IGNORECASE,
)
# After a full stop and a space (not one of "U.S.", "Inc.", "e.g."), after a Chinese one, and
# before a bullet.
_SENTENCE_END = re.compile(
    r"(?<=[.!?;])(?<!\b[A-Z]\.)(?<!\bInc\.)(?<!\bCo\.)(?<!\bNo\.)(?<!\bvs\.)(?<!\be\.g\.)(?<!\bi\.e\.)"
    r"(?<!\bMr\.)(?<!\bMs\.)(?<!\bDr\.)(?<!\bSt\.)\s+|(?<=[。！？；])|\s+(?=[•●▪■◦])"
)
_CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# A line narrower than this share of the passage's text column (or than MIN_PROSE_CHARS) is
# a heading, a label or a list item: a unit of its own. Wider lines are prose.
PROSE_SHARE = 0.6
MIN_PROSE_CHARS = 25
SHORT_LINE = 60  # a heading is at most this long
_BULLETS = ("•", "●", "▪", "■", "◦", "–", "-", "*")
MAX_ROW_CHARS = 160


@dataclass(frozen=True)
class Unit:
    """A piece of a passage: a table row or short line (kept as a line), or a sentence of a
    prose block (``block``: which run of prose lines it belongs to, -1 for a line)."""

    text: str
    kind: str  # "row" | "label" (ends with ":") | "line" | "sentence"
    block: int = -1


def _line_kind(line: str, prose_width: float) -> str | None:
    """'row', 'label' or 'line' for a line that stands alone, None for a line of prose: one
    about as wide as the passage's text column (``prose_width``), not a bullet."""
    if " | " in line or (len(line) <= MAX_ROW_CHARS and _ROW_TAIL.search(line)
                         and not _YEAR_TAIL.search(line) and re.search(r"[^\W\d_]", line)):
        return "row"
    if line.endswith((":", "：")) and len(line) <= MAX_ROW_CHARS:
        return "label"
    if line.startswith(_BULLETS) or _title_like(line) or len(line) < max(MIN_PROSE_CHARS, PROSE_SHARE * prose_width):
        return "line"
    return None


def _title_like(line: str) -> bool:
    """A title however wide its column: "CONSOLIDATED STATEMENTS OF CASH FLOWS", "Consolidated
    Statements of Earnings" (every longer word capitalised, no full stop)."""
    longer = [w for w in re.findall(r"[^\W\d_]+", line) if len(w) >= 4]
    return (len(line) <= SHORT_LINE and bool(longer) and all(w[0].isupper() for w in longer)
            and not line.endswith((".", "。")))


def _prose_width(lines: Sequence[str]) -> float:
    """How wide the passage's text column is: the 90th percentile of its line lengths
    (a two-column paper's lines are ~50 characters, a 10-K's ~150)."""
    lengths = sorted(len(line) for line in lines)
    return lengths[int(0.9 * (len(lengths) - 1))] if lengths else 0.0


def join_pieces(left: str, right: str) -> str:
    """Two pieces of one paragraph: a space between English words, none after Chinese."""
    return left + right if _CJK.search(left[-1:]) or left.endswith(("。", "！", "？", "；", "，")) else f"{left} {right}"


def _continues(previous: str, line: str, in_prose: bool) -> bool:
    """A line that goes on with the sentence or list item above it ("headphones and portable
    speakers.", "demographics"); after an item whatever its first letter, and Chinese prose
    whenever the line above left its sentence open."""
    if previous.endswith((".", ":", "!", "?", "。", "：", "！", "？", "；")) or line.startswith(_BULLETS):
        return False
    return line[:1].islower() or previous.startswith(_BULLETS) or (in_prose and bool(_CJK.match(line)))


def split_units(text: str) -> list[Unit]:
    """The passage as rows, labels and short lines one by one and prose as sentences."""
    lines = [line.strip() for line in text.split("\n") if line.strip()]
    width = _prose_width(lines)
    units: list[Unit] = []
    prose: list[str] = []
    blocks = 0

    def flush() -> None:
        nonlocal blocks
        if prose:
            joined = functools.reduce(join_pieces, prose)
            units.extend(Unit(s.strip(), "sentence", blocks) for s in _SENTENCE_END.split(joined) if s.strip())
            blocks += 1
            prose.clear()

    for line in lines:
        kind = _line_kind(line, width)
        if kind in (None, "line") and _continues(prose[-1] if prose else (units[-1].text if units else "."), line,
                                                 bool(prose)):
            if prose:
                prose.append(line)
            else:  # a wrapped bullet or heading
                units[-1] = Unit(join_pieces(units[-1].text, line), units[-1].kind)
            continue
        if kind is None:
            prose.append(line)
            continue
        flush()
        units.append(Unit(line, kind))
    flush()
    return units


def table_heading(units: Sequence[Unit]) -> set[int]:
    """A statement's heading: the short lines before its first row (title, scale line,
    column years), and a scale line wherever it stands."""
    keep = {i for i, u in enumerate(units) if u.kind != "sentence" and len(u.text) <= MAX_ROW_CHARS
            and _SCALE.search(u.text)}
    first_row = next((i for i, u in enumerate(units) if u.kind == "row"), None)
    if first_row is not None:
        keep.update(i for i in range(first_row) if units[i].kind in ("line", "label"))
    return keep


def run_of(units: Sequence[Unit], i: int, kind: str, limit: int) -> list[int]:
    """The units of ``kind`` next to unit ``i`` without a break (a table's rows, a list's
    items), nearest first, at most ``limit``."""
    first = last = i
    while first > 0 and units[first - 1].kind == kind:
        first -= 1
    while last + 1 < len(units) and units[last + 1].kind == kind:
        last += 1
    around = sorted((j for j in range(first, last + 1) if j != i), key=lambda j: (abs(j - i), j))
    return around[:limit]


def is_heading(unit: Unit) -> bool:
    """A short line that is no list item and no sentence: a slide's title, a section's name."""
    return (unit.kind == "line" and len(unit.text) <= SHORT_LINE and not unit.text.startswith(_BULLETS)
            and not unit.text.endswith((".", "!", "?", "。", "！", "？")))
