"""Numbers as pages print them, and whether the figures of an answer come from the pages.

A statement page prints "4,396" under "(In millions)", "(1,501)" for a negative,
"24.6%", "$3.5 billion", "1,234万" or "12.5亿元" under "单位：万元". ``printed_numbers``
reads each number with the multipliers the page applies to it; ``find_value`` says which
passage prints a calculation's operand; ``unaccounted`` lists the figures of an answer
that no passage prints and no calculation produced.

An answer may restate a figure in another unit and round it ("$4.4 billion" for a
printed 4,396 in millions), so an answer's figure is compared at the precision it is
written in: it is accounted for when some printed or computed amount, in the answer's
unit or as written, rounds to it ("4.4 billion" matches 4,396,000,000; "4.5 billion"
does not). A figure written with trailing zeros and at least two significant digits
("4,400") may be rounded to its last non-zero digit. Printed numbers count in their own
unit, times the scale their page or line gives them, or (when the page names no scale)
in any of ``UNITS``: a passage often starts below its "(In millions)". A figure written
without a unit word ("$303" when the question said "answer in USD millions") may be in
any of ``UNITS`` too. The price of this leniency: a rounded figure ("$4.5 billion") is
caught only when no other printed amount rounds to it (about half the time on a
statement page, where last year's column is often close); an exact one almost always.

What an answer says that is not a figure to account for: years (1900-2100), single
digits, [n] marks, dates ("December 31, 2022", "2022-12-31", "2022年12月31日"), times,
durations ("the 12 months ended"), page, note, item, table and section numbers ("Note 7",
"page 54", "表 3.1", "第 3 章"), numbers inside words ("FY2021", "Q4", "10-K",
"COVID-19", "R2"), list markers, ``CONSTANTS`` written without a unit, and the
expressions inside <calc> forms (their operands are checked by ``rag.calculator``).
A check that flags right answers is worse than none, so every doubt leans to "not a figure".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable, Sequence

from rag.citations import MARK

PERCENT = 0.01
# Numbers a calculation may use without a page, and an answer may state without one:
# unit changes (100 for a percentage, 1,000 / 10,000 / a million / 100 million / a billion
# between scales), days in a year (365, 360), months and weeks (12, 52), and the small
# counts of an average or a growth period ("/ 2", "** (1 / 3)", "(1 + g)").
CONSTANTS = frozenset({0.0, 0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 10.0, 12.0, 52.0, 100.0, 360.0, 365.0,
                       1e3, 1e4, 1e6, 1e8, 1e9})
# Units an amount may be re-expressed in: a model turns millions into billions, 元 into 万 or 亿.
UNITS = (1.0, 1e3, 1e4, 1e6, 1e8, 1e9)

_WORD_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12,
                "bn": 1e9, "mn": 1e6, "mln": 1e6}
_CJK_SCALES = {"万亿": 1e12, "千亿": 1e11, "百亿": 1e10, "十亿": 1e9, "亿": 1e8, "千万": 1e7,
               "百万": 1e6, "十万": 1e5, "万": 1e4, "千": 1e3}
_SHORT_SCALES = {"k": 1e3, "m": 1e6, "mm": 1e6, "b": 1e9, "bn": 1e9}  # only after a currency sign: "$4.4B"
_PAGE_WORDS = {"thousand": 1e3, "thousands": 1e3, "000": 1e3, "000s": 1e3, "000's": 1e3, "k": 1e3,
               "million": 1e6, "millions": 1e6, "m": 1e6, "mm": 1e6, "mn": 1e6,
               "billion": 1e9, "billions": 1e9, "bn": 1e9, "b": 1e9}

# "4,396", "1,234.5", "0.25", "12"; the thousands groups must be whole ("12,34" is two numbers).
_NUMBER = re.compile(r"(?<![\d.])(?:\d{1,3}(?:,\d{3})+(?![\d])|\d+)(?:\.\d+)?(?![\d])")
_CURRENCY = r"(?:US\$|HK\$|A\$|C\$|\$|¥|￥|€|£|RMB|USD|EUR|CNY)"
_BEFORE_CURRENCY = re.compile(_CURRENCY + r"\s*$")
_BEFORE_PAREN = re.compile(r"[(（]\s*" + _CURRENCY + r"?\s*$")
_BEFORE_MINUS = re.compile(r"(?<![\w.,])[-−–]\s*" + _CURRENCY + r"?\s*$"
                           r"|(?<![\w.,])" + _CURRENCY + r"\s*[-−–]\s*$")
_AFTER_PAREN = re.compile(r"\s*[)）]")
_PERCENT_AFTER = re.compile(r"\s*(?:[%％]|percent\b|per\s+cent\b|percentage\s+points?\b|个百分点|百分点)", re.I)
_BASIS_POINTS = re.compile(r"\s*(?:basis\s+points?|bps)\b", re.I)
_WORD_AFTER = re.compile(r"\s*(thousand|million|billion|trillion|bn|mn|mln)s?\b", re.I)
_CJK_AFTER = re.compile(r"\s*(万亿|千亿|百亿|十亿|亿|千万|百万|十万|万|千(?=元))")
_SHORT_AFTER = re.compile(r"(mm|bn|[kmb])(?![A-Za-z])", re.I)
_PAGE_SCALES = [
    re.compile(r"in\s*(thousands|millions|billions)\b", re.I),  # also pypdf's "(Dollarsinmillions,except...)"
    re.compile(r"[(（]\s*(?:dollars|amounts|\$)?\s*(thousands|millions|billions)\b", re.I),  # "(Millions, except ...)"
    re.compile(r"\b(thousands|millions|billions)\s+of\s+(?:u\.?s\.?\s+)?(?:dollars|euros|pounds|yen|yuan|rmb)\b", re.I),
    re.compile(r"[(（]\s*" + _CURRENCY + r"?\s*(?:in\s+)?(thousands|millions|billions|000s?|000's|mm|m|bn)\s*[)）]",
               re.I),
    re.compile(_CURRENCY + r"\s*(?:in\s+)?(thousands?|millions?|billions?|000s?|000's|mm|m|bn|k)\b", re.I),
    re.compile(r"\bin\s+(000s?|000's)\b", re.I),
]
_CJK_PAGE_SCALES = [
    re.compile(r"单位\s*[:：]?\s*(?:人民币|美元|港元|港币|RMB)?\s*(千|万|百万|千万|亿)?\s*元"),
    re.compile(r"(?:人民币|美元|港元|港币|RMB)\s*(千|万|百万|千万|亿)\s*元"),
    re.compile(r"[(（]\s*(千|万|百万|千万|亿)元\s*[)）]"),
]

_MONTHS = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
           r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_REFERENCE_WORDS = (r"pages?|pp?\.|notes?|items?|parts?|sections?|§|exhibits?|tables?|figures?|figs?\.|charts?"
                    r"|chapters?|schedules?|articles?|rules?|forms?|levels?|tiers?|steps?|phases?|appendix"
                    r"|appendices|questions?|equations?|eqs?\.|no\.|nos\.|#|footnotes?|paragraphs?|versions?"
                    r"|S&P|Fortune|Russell|Nasdaq")
_REF_NUMBER = r"[A-Z]?\d[\w.]*"
# Spans of an answer whose digits are not figures: dates, times, references, links.
_NOT_FIGURES = re.compile("|".join([
    rf"\b{_MONTHS}\.?\s+\d{{1,2}}(?:st|nd|rd|th)?\b(?:\s*,?\s*\d{{4}})?",
    rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}\b\.?(?:\s*,?\s*\d{{4}})?",
    r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b", r"\b\d{1,2}/\d{1,2}/\d{2,4}\b", r"\b\d{1,2}:\d{2}(?::\d{2})?\b",
    r"\d+\s*年(?:\s*\d{1,2}\s*月)?(?:\s*\d{1,2}\s*[日号])?", r"\d{1,2}\s*月(?:\s*\d{1,2}\s*[日号])?",
    r"\d{1,2}\s*[日号]",
    rf"(?<!\w)(?:{_REFERENCE_WORDS})\s*{_REF_NUMBER}(?:\s*(?:[-–,&]|and|to|through)\s*{_REF_NUMBER})*",
    r"(?:第|表|图|附注|注|附录|公式|式)\s*\d[\d.]*(?:\s*[-–~至、]\s*\d[\d.]*)*",
    r"\d+(?:\s*[-–~至]\s*\d+)?\s*页",
    r"^\s*[(（]?\d{1,2}[.)）、](?!\d)",
    r"[(（]\s*\d{1,2}\s*[)）]",
    r"\S+@\S+", r"(?:https?://|www\.|doi:)\S+",
    r"\d+\s*[-‐]?\s*(?:months?|years?|weeks?|days?|quarters?|hours?)\b",  # durations: "the 12 months ended"
    r"\d+\s*(?:个月|个季度|季度|周|天|小时)",
]), re.I | re.M)
_SECTION_AFTER = re.compile(r"\.\d")  # "3.2.1": a section number, not a figure
_MINUS_BEFORE = re.compile(r"(?<![\w.,])[-−]$")  # "-3.5%" is written with its sign
_TIMES_AFTER = re.compile(r"[x×](?![A-Za-z])")  # "1.5x coverage": a multiple is a figure
_CALC_FORM = re.compile(r"<calc>.*?(?:</calc>|$)", re.S)


@dataclass(frozen=True)
class Printed:
    """A number as a page prints it: ``value`` signed ("(123)" is -123), ``text`` as
    printed, ``scales`` the multipliers the page applies to it besides itself (1e6 under
    "(In millions)", 1e9 for "3.5 billion", 1e4 for "1,234万", 0.01 for "24.6%")."""

    value: float
    text: str
    scales: tuple[float, ...] = ()


@dataclass(frozen=True)
class _Figure:
    """A figure an answer states: ``number`` as written (unsigned) in units of ``unit``
    (1e9 for "billion", 0.01 for "%"), correct to within ``tolerance`` of that number."""

    text: str
    number: float
    unit: float
    tolerance: float


def printed_numbers(passage: str) -> list[Printed]:
    """Every number ``passage`` prints, with its sign and the scales its page or line gives it."""
    return list(_printed(passage))


def find_value(value: float, passages: Sequence[str], rel_tol: float = 1e-12) -> int | None:
    """The first (1-based) passage that prints ``value``: the number itself or its
    absolute value, else the same amount in another unit (the page's scale, thousands,
    millions, billions, 万, 亿; a percentage as its fraction or a fraction as a
    percentage). None when no passage prints it. ``rel_tol`` only absorbs float error
    (4,396 x 1e6 against 4.396 x 1e9): at 1e-6 a count of 19,718,781 would pass for a
    printed 19,718,780, at 1e-9 an amount of 4,200,000,001 for 4,200,000,000."""
    target = abs(value)
    for exact in (True, False):
        for number, passage in enumerate(passages, 1):
            if any(_prints(p, target, rel_tol, exact) for p in _printed(passage)):
                return number
    return None


def answer_figures(text: str) -> list[str]:
    """The figures ``text`` states, as written with their units ("$4.4 billion", "12.1%", "3.2亿")."""
    return [figure.text for figure in _answer_figures(text)]


def unaccounted(text: str, passages: Sequence[str], computed: Sequence[float] = ()) -> list[str]:
    """The figures of ``text`` (as ``answer_figures`` writes them, without repeats) that
    no passage prints and no ``computed`` result gives, each compared at the precision
    the answer writes it in. ``CONSTANTS`` written without a unit count as accounted for,
    so a calculation shown without its tags ("(4,396 - 3,921) / 4,396 * 100 = 10.81")
    adds nothing unaccounted when its operands are printed and its result is computed."""
    amounts = [(abs(p.value), (1.0, *p.scales) if p.scales else (1.0, *UNITS[1:]))
               for passage in passages for p in _printed(passage)]
    amounts += [(abs(c), UNITS) for c in computed if math.isfinite(c)]
    missing: list[str] = []
    for figure in _answer_figures(text):
        if figure.unit == 1.0 and figure.number in CONSTANTS:
            continue  # "* 100" of a calculation shown without its tags
        if figure.text not in missing and not any(_rounds_to(figure, a, s) for a, s in amounts):
            missing.append(figure.text)
    return missing


def states(text: str, value: float) -> bool:
    """Whether ``text`` writes ``value`` (at the precision it writes it in, in any unit):
    "34.64%" states 34.635919…, "$6.1 billion" states 6,098 in millions."""
    return math.isfinite(value) and any(_rounds_to(f, abs(value), UNITS) for f in _answer_figures(text))


@lru_cache(maxsize=1024)
def _printed(passage: str) -> tuple[Printed, ...]:
    scales = page_scales(passage)
    found = []
    for match in _NUMBER.finditer(passage):
        start, end = match.span()
        value = float(match.group(0).replace(",", ""))
        before, after = passage[max(0, start - 8):start], passage[end:end + 24]
        lead = _BEFORE_PAREN.search(before)  # "(1,501)": negative when the parenthesis closes
        close = _AFTER_PAREN.match(after) if lead else None
        if not close:
            lead = _BEFORE_MINUS.search(before) or _BEFORE_CURRENCY.search(before)
        negative = bool(close) or bool(lead and re.search(r"[-−–]", lead.group(0)))
        skip = close.end() if close else 0
        scale, tail = _unit_after(after[skip:], currency=bool(_BEFORE_CURRENCY.search(before)))
        text = " ".join(passage[start - (len(lead.group(0)) if lead else 0):end + skip + tail].split())
        found.append(Printed(-value if negative else value, text, (scale,) if scale else scales))
    return tuple(found)


def _unit_after(after: str, currency: bool) -> tuple[float | None, int]:
    """The multiplier written right after a number, and how many characters it takes."""
    for pattern, table in ((_WORD_AFTER, _WORD_SCALES), (_CJK_AFTER, _CJK_SCALES)):
        match = pattern.match(after)
        if match:
            return table[match.group(1).lower()], match.end()
    match = _PERCENT_AFTER.match(after)
    if match:
        return PERCENT, match.end()
    match = _BASIS_POINTS.match(after)
    if match:
        return 1e-4, match.end()
    match = _SHORT_AFTER.match(after) if currency else None
    if match:
        return _SHORT_SCALES[match.group(1).lower()], match.end()
    return None, 0


def page_scales(passage: str) -> tuple[float, ...]:
    """The scales a passage's headers or scale lines name ("(In millions, except per
    share data)", "$ in thousands", "单位：万元", "人民币亿元"), in order of appearance."""
    found: list[tuple[int, float]] = []
    for pattern in _PAGE_SCALES:
        found += [(m.start(), _PAGE_WORDS[m.group(1).lower()]) for m in pattern.finditer(passage)]
    for pattern in _CJK_PAGE_SCALES:
        found += [(m.start(), _CJK_SCALES[m.group(1)]) for m in pattern.finditer(passage) if m.group(1)]
    scales: list[float] = []
    for _, scale in sorted(found):
        if scale not in scales:
            scales.append(scale)
    return tuple(scales)


def _prints(printed: Printed, target: float, rel_tol: float, exact: bool) -> bool:
    amount = abs(printed.value)
    if exact:
        return math.isclose(target, amount, rel_tol=rel_tol)
    candidates = [amount * scale for scale in (1.0, *printed.scales)]
    if PERCENT not in printed.scales and amount < 10:
        candidates.append(amount * 100)  # a printed fraction used as a percentage
    return any(math.isclose(target * unit, c, rel_tol=rel_tol) or math.isclose(target, c * unit, rel_tol=rel_tol)
               for c in candidates for unit in UNITS)


def _rounds_to(figure: _Figure, amount: float, scales: Iterable[float]) -> bool:
    """Whether ``amount`` (times one of ``scales``), written in the figure's unit or as
    is, rounds to the figure at the precision it is written in. A figure without a unit
    word and at least 1 may be in any of ``UNITS``: the question often names it ("Answer
    in USD millions": "303" for a printed 302,578 in thousands); "0.0031" is no 3.1 in thousands."""
    slack = figure.tolerance + 1e-9 * max(1.0, figure.number)
    units = UNITS if figure.unit == 1.0 and figure.number >= 1 else (figure.unit, 1.0)
    for scale in scales:
        for unit in units:
            if abs(amount * scale / unit - figure.number) <= slack:
                return True
    return False


def _answer_figures(text: str) -> list[_Figure]:
    text = MARK.sub(" ", _CALC_FORM.sub(" ", text))
    masked = [m.span() for m in _NOT_FIGURES.finditer(text)]
    figures = []
    for match in _NUMBER.finditer(text):
        start, end = match.span()
        if any(a <= start < b for a, b in masked):
            continue
        before, after = text[max(0, start - 8):start], text[end:end + 24]
        if _glued_before(text, start) or _SECTION_AFTER.match(after):
            continue
        currency = _BEFORE_CURRENCY.search(before)
        unit, tail = _unit_after(after, currency=bool(currency))
        if unit is None and not _TIMES_AFTER.match(after) and (
                _is_latin_letter(after.lstrip("-‐")[:1]) or after[:1] in ("'", "’")):  # "4th", "10-K"
            continue
        written = match.group(0)
        whole, _, decimals = written.replace(",", "").partition(".")
        if unit is None and not decimals and (
                len(whole) == 1 or (len(whole) == 4 and 1900 <= int(whole) <= 2100 and "," not in written)):
            continue
        start_text = start - len(currency.group(0)) if currency else start
        if _MINUS_BEFORE.search(text[max(0, start_text - 3):start_text]):
            start_text -= 1
        figures.append(_Figure(text[start_text:end + tail].strip(), float(written.replace(",", "")),
                               unit or 1.0, _tolerance(whole, decimals)))
    return figures


def _glued_before(text: str, start: int) -> bool:
    """Whether the number at ``start`` is part of a word: "FY2021", "Q4", "COVID-19", "R2", "'22"."""
    previous = text[start - 1] if start else ""
    if previous in ("'", "’"):
        return True
    if previous in "-‐" and start >= 2:
        previous = text[start - 2]
    return _is_latin_letter(previous)


def _is_latin_letter(char: str) -> bool:
    """A letter of a word (Latin, Greek, math italics), not a CJK character: "营收为12亿" is a figure."""
    return bool(char) and char.isalpha() and not 0x2E80 <= ord(char) <= 0xFFEF


def _tolerance(whole: str, decimals: str) -> float:
    """Half a unit of the last digit written; for a whole number with trailing zeros and
    at least two significant digits ("4,400"), half a unit of its last non-zero digit."""
    if decimals:
        return 0.5 * 10 ** -len(decimals)
    significant = whole.lstrip("0").rstrip("0")
    zeros = len(whole) - len(whole.rstrip("0"))
    return 0.5 * 10 ** zeros if zeros and len(significant) >= 2 else 0.5
