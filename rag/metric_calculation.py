"""Metrics computed by code from the statement rows the passages print (issue 33).

Handed the gold pages, Qwen2.5-Coder-1.5B still states the gold figure of a FinanceBench
metric question about one time in seven: it divides the wrong lines, takes last year's
column, averages one balance instead of two. Choosing lines and columns is exact work, so
code does it: the question names a metric (rag/metrics.toml) and a fiscal year; each line
item of the metric's ``compute`` formula is read from the row printed under one of its
labels, in the column of the right year (rag/statement_rows.py); the expression is
evaluated by the calculator, whose operand check finds every figure in a passage. The
result goes into the prompt as a prepared calculation the model states, and into the
turn's calculations, so the reader sees each operand's page.

A question that names no metric but one line item and a year ("total current assets at
the end of FY2019") gets the row's figure read the same way; asked "in USD billions" of
a page printed in millions, the conversion is a calculation too. Where a line, a column or
the year is not found, nothing is prepared and the model answers as before: a wrong
prepared figure would be believed, so every doubt prepares nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Hashable, Sequence

from rag.calculator import Calculation, calculate, format_result
from rag.figures import page_scales
from rag.language import is_chinese
from rag.metric_definitions import LineItem, Metric, load_catalogue, metrics_in, line_items_in
from rag.statement_rows import Row, statement_rows

_FY = re.compile(r"(?:\bFY\s?'?|\bfiscal\s+(?:year\s+)?|(?<![\d.,$]))((?:19[5-9]|20[0-4])\d)(?![\d.,%]\d|\d|%)", re.I)
_YEARS_AVERAGE = re.compile(r"\b(\d|two|three|four|five)[\s-]+years?\s+(?:average|avg|mean)\b", re.I)
_WORD_NUMBERS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_ROUND_TO = re.compile(r"\bround(?:ed)?\b[^.?!]{0,30}?\bto\s+(zero|one|two|three|four|[0-4])\s+decimal", re.I)
_TOKEN = re.compile(r"\b([a-z_]+)(?:\[-(\d+|span)\])?")
_FUNCTIONS = {"abs", "avg", "round", "min", "max", "sum"}
_ASKED_SCALE = re.compile(r"\b(?:in|into)\s+(?:(?:usd|us\$|\$|dollars?)\s+)?(thousands|millions|billions)\b", re.I)
# An amount is written "59,268 million": "59,268 (in millions)" became "$59.268 million" in the 1.5B's answer.
_UNIT_WORDS = {"in thousands": "thousand", "in millions": "million", "in billions": "billion"}
_SCALE_WORDS = {"thousands": 1e3, "millions": 1e6, "billions": 1e9}
_OPERATOR = re.compile(r"\d\s*[-+*/]\s*[\d(]|\)\s*[-+*/]")
_LABEL_NOISE = re.compile(r"\([^)]*\)|[^\w\s&]")
MAX_YEARS = 5
# A capitalised word that does not start a sentence; all-capital words (USD, EBITDA, DPO) and
# words with digits (FY2021) are not names.
_NAME = re.compile(r"(?<![.?!:]\s)(?<=\s)([A-Z][a-z][A-Za-z&-]+)")
_NOT_NAMES = {"fy", "fiscal", "usd", "gaap", "non", "please", "define", "round", "answer", "here", "using"}
_PER_SHARE = re.compile(r"\bper\s+(?:common\s+|diluted\s+|basic\s+)?share\b|每股", re.I)  # an EPS row, not the amount
# A question about a metric's direction ("improving", "declined"); not "change in revenue" or
# "growth", which are metrics over two years themselves.
_TREND = re.compile(r"\b(?:improv\w*|declin\w*|deteriorat\w*|trend\w*|compared?|increas\w*|decreas\w*"
                    r"|higher|lower|better|worse)\b|改善|下降|上升|趋势", re.I)
# "Which of JPM's segments had the lowest net revenue?": a choice among rows, which the
# company's one total line does not answer.
_ASKS_WHICH = re.compile(r"^\W*which\b|哪", re.I)
_ASKS_RATIO = re.compile(r"%|\b(?:margin|ratio|rate|percent(?:age)?|growth|cagr|average|per share)\b", re.I)
# What a longer printed label adds that makes it another line than the item's own.
_NOT_THE_ITEM = re.compile(r"\b(?:before|continuing|discontinued|noncontrolling|non-controlling|minority|per share"
                           r"|including|excluding|other|beginning|end of)\b")


@dataclass
class Prepared:
    """A calculation code made for the question: what it is, and the calculator's result."""

    name: str  # "inventory turnover ratio, FY2019"
    formula: str  # the metric's formula in words, or the line item's name
    calculation: Calculation
    kind: str  # "amount", "percent", "ratio", "days"
    unit: str = ""  # an amount's scale as the prompt states it: "in millions"
    decimals: int | None = None  # "round your answer to one decimal place": the result as asked


def prepare(question: str, passages: Sequence[str], pages: Sequence[Hashable] | None = None,
            headings: Sequence[tuple[Hashable, str]] = (), filenames: Sequence[str] = (),
            statements: Sequence[str | None] = ()) -> list[Prepared]:
    """The calculations code can do for ``question`` from ``passages`` ([] when it cannot be
    sure). ``pages`` and ``headings`` as rag.statement_rows.statement_rows takes them;
    ``filenames`` are the passages' documents' names ("BLOCK_2016_10K.pdf"); ``statements``
    the statement each passage's page is ("balance sheet"), so that a balance is read from the
    balance sheet, not from the cash flow statement's change in it."""
    years = [int(y) for y in _FY.findall(question)]
    if not preparable(question) or not passages or _names_absent(question, [*passages, *filenames]):
        return []
    rows = statement_rows(passages, pages, headings)
    if statements:
        rows = [replace(row, statement=statements[row.passage - 1]) for row in rows]
    if not rows:
        return []
    year = max(years)
    metric = next((m for m in metrics_in(question) if m.compute), None)
    before: Prepared | None = None
    if metric is not None:
        found = _metric(question, metric, year, years, rows, passages, pages)
        if found is not None and _TREND.search(question) and not _YEARS_AVERAGE.search(question):
            # "is the margin improving?": the year before too, so the answer compares two figures
            before = _metric(question, metric, year - 1, [year - 1], rows, passages, pages)
    else:
        item = _asked_line(question)
        if item is None:
            return []
        found = _lookup(question, item, year, rows, passages, pages)
    if found is None:
        return []
    prepared = [p for p in (before, found) if p is not None]
    rounding = _ROUND_TO.search(question)
    for p in prepared if rounding else ():
        word = rounding.group(1).lower()
        p.decimals = _WORD_NUMBERS[word] if word in _WORD_NUMBERS else int(word)
    return prepared


def preparable(question: str) -> bool:
    """Whether ``question`` asks for something code may compute: a fiscal year, and a metric
    with a formula or a line item. Cheap: the caller reads no page for any other question."""
    if not _FY.search(question):
        return False
    return any(m.compute for m in metrics_in(question)) or any(item.key for item in line_items_in(question))


def statements_needed(question: str) -> list[str]:
    """The statements whose rows code would read for ``question``: those of the line items in
    the formula of the metric it names, or of the one line item it names. Search for
    "inventory turnover" returns the balance sheet's inventories and seldom the income
    statement's cost of sales; the strategy reads the missing statement's page from the
    document (rag/strategies/compute.py)."""
    metric = next((m for m in metrics_in(question) if m.compute), None)
    if metric is not None:
        items = load_catalogue().items_by_key
        keys = (match.group(1) for match in _TOKEN.finditer(_formula(question, metric)[0]))
        return list(dict.fromkeys(items[key].statement for key in keys if key in items))
    item = _asked_line(question)
    return [item.statement] if item is not None else []


def _asked_line(question: str) -> LineItem | None:
    """The one line item whose printed figure answers ``question`` when it names no metric;
    None for a ratio of a line the catalogue cannot compute, or a choice among rows."""
    items = [item for item in line_items_in(question) if item.key]
    if len(items) != 1 or _ASKS_RATIO.search(question) or _ASKS_WHICH.search(question):
        return None
    return items[0]


def _formula(question: str, metric: Metric) -> tuple[str, bool]:
    """The compute formula ``question`` asks for (a variant when it defines the metric its own
    way, "DPO … + change in inventory"), and whether it was a variant."""
    lowered = question.lower()
    variant = next((compute for when, compute in metric.variants if when in lowered), None)
    return variant or metric.compute, variant is not None


def _names_absent(question: str, texts: Sequence[str]) -> list[str]:
    """The names the question gives (a capitalised word inside a sentence: "Tesla's", "Best
    Buy") that no passage and no file name prints: a question about another company than the
    documents' must not get a figure read from theirs."""
    haystack = " ".join(texts).lower()
    return [name for name in _NAME.findall(question)
            if name.lower() not in haystack and name.lower() not in _NOT_NAMES]


def prompt_text(prepared: Sequence[Prepared], chinese: bool) -> str:
    """The prepared calculations as the question's message carries them."""
    if not prepared:
        return ""
    lines = ["docchat 已根据片段中印出的数字算出（请直接使用这个结果，不要重新计算）：" if chinese else
             "Calculated by docchat from the figures the passages print (state this result; do not compute it again):"]
    lines += [f"- {_line(p)}" for p in prepared]
    return "\n".join(lines)


def answer_text(prepared: Sequence[Prepared]) -> str:
    """The prepared calculations as the answer itself, for when the model states none of them
    (a 0.5B model often answers "[1]" and nothing more): "Inventory turnover, FY2021: cost of
    goods sold / average inventories = 24,576 / ((6,854 + 7,367) / 2) = 3.46 [1][3]"."""
    lines = [_line(p) for p in prepared if p.calculation.ok and p.calculation.result is not None]
    return "\n".join(line[:1].upper() + line[1:] for line in lines)


def _line(p: Prepared) -> str:
    calc = p.calculation
    marks = "".join(f"[{n}]" for n in calc.sources)
    steps = [p.formula, calc.expression] if _OPERATOR.search(calc.expression) else [p.formula]
    return f"{p.name}: {' = '.join(steps)} = {_result(p)} {marks}".rstrip()


def _result(p: Prepared) -> str:
    value, expression = p.calculation.result, p.calculation.expression
    if _OPERATOR.search(expression) is None:  # a figure read off the page: as it is printed
        return f"{expression} {_UNIT_WORDS[p.unit]}" if p.unit else expression
    if value is None:
        text = "?"
    elif p.decimals is not None:
        text = f"{value:,.{p.decimals}f}" if abs(value) >= 10_000 else f"{value:.{p.decimals}f}"
    else:
        text = format_result(value)
    if p.unit:
        return f"{text} {_UNIT_WORDS[p.unit]}"
    return f"{text}%" if p.kind == "percent" else f"{text} days" if p.kind == "days" else text


def _metric(question: str, metric: Metric, year: int, years: list[int], rows: list[Row],
            passages: Sequence[str], pages: Sequence[Hashable] | None) -> Prepared | None:
    formula, variant = _formula(question, metric)
    span = max(year - min(years), 1)
    period = [year]
    average = _YEARS_AVERAGE.search(question)
    if average:
        count = _WORD_NUMBERS.get(average.group(1).lower()) or int(average.group(1))
        if not 2 <= count <= MAX_YEARS:
            return None
        period = list(range(year - count + 1, year + 1))
    parts = [_substitute(formula, y, span, rows) for y in period]
    if any(part is None for part in parts):
        return None
    expression = parts[0] if len(parts) == 1 else f"avg({', '.join(f'({p})' for p in parts)})"
    calculation = calculate(expression, passages)
    if calculation.result is None:
        return None
    chinese = is_chinese(question)
    called = metric.names_zh[0] if chinese and metric.names_zh else metric.names[0]
    if len(period) > 1:
        name = (f"{called}，FY{period[0]}–FY{period[-1]} {len(period)} 年平均" if chinese else
                f"{called}, {len(period)}-year average FY{period[0]}–FY{period[-1]}")
    else:
        name = f"{called}，FY{year}" if chinese else f"{called}, FY{year}"
    formula_words = metric.formula_zh if chinese else metric.formula
    if variant:
        formula_words = "按问题中的定义" if chinese else "as the question defines it"
    unit = ""
    if metric.kind == "amount" and calculation.sources:
        calculation, unit = _in_asked_scale(question, calculation, calculation.sources[0], passages, pages)
    return Prepared(name, formula_words, calculation, metric.kind, unit)


def _lookup(question: str, item: LineItem, year: int, rows: list[Row], passages: Sequence[str],
            pages: Sequence[Hashable] | None) -> Prepared | None:
    cell = _cell(item, year, rows)
    if cell is None:
        return None
    text, row = cell
    calculation, unit = _in_asked_scale(question, calculate(text, passages), row.passage, passages, pages)
    if calculation.result is None:
        return None
    return Prepared(f"{item.name}, FY{year}", f'the line "{row.label}"', calculation, "amount", unit)


def _substitute(formula: str, year: int, span: int, rows: list[Row]) -> str | None:
    """``formula`` with each line item replaced by its printed figure for its year, or None."""
    catalogue = load_catalogue()
    missing = False

    def figure(match: re.Match[str]) -> str:
        nonlocal missing
        key, back = match.group(1), match.group(2)
        if key in _FUNCTIONS or key == "span":
            return str(span) if key == "span" else key
        item = catalogue.items_by_key.get(key)
        if item is None:
            missing = True
            return "0"
        offset = span if back == "span" else int(back or 0)
        cell = _cell(item, year - offset, rows)
        if cell is None:
            missing = True
            return "0"
        text, row = cell
        value = row.at(year - offset)[1]
        return f"(-{text})" if value < 0 and not item.outflow else text

    expression = _TOKEN.sub(figure, formula)
    return None if missing else expression


def _cell(item: LineItem, year: int, rows: list[Row]) -> tuple[str, Row] | None:
    """The figure printed for ``item`` in ``year``'s column: the row under the item's first
    label that has one ("total …" labels first: a total is what a metric means), the first
    such row of the passages."""
    labels = sorted((_normal(label) for label in item.labels + item.labels_zh),
                    key=lambda label: not label.startswith("total "))
    labels = list(dict.fromkeys(labels))
    # rows of the item's own statement first, then of pages of unknown role, then the others
    ranked = sorted(rows, key=lambda row: 0 if row.statement == item.statement else 1 if row.statement is None else 2)
    for matches in (str.__eq__, _starts):
        for label in labels:
            for row in ranked:
                if (matches(_normal(row.label), label) and not _PER_SHARE.search(f"{row.group} {row.label}")
                        and (cell := row.at(year)) is not None):
                    return cell[0], row
    return None


def _starts(printed: str, label: str) -> bool:
    """A printed label that says more after the item's own ("Depreciation and amortization of
    property, equipment and intangibles", "Net income attributable to common shareholders"):
    tried only when no row prints the label exactly."""
    return (" " in label and printed.startswith(label + " ") and _NOT_THE_ITEM.search(printed[len(label):]) is None)


def _normal(label: str) -> str:
    """A label without case, punctuation, parentheses or a closing "net" ("Inventories, net")."""
    words = _LABEL_NOISE.sub(" ", label.lower()).split()
    return " ".join(words[:-1] if len(words) > 1 and words[-1] == "net" else words)


def _in_asked_scale(question: str, calculation: Calculation, source: int, passages: Sequence[str],
                    pages: Sequence[Hashable] | None) -> tuple[Calculation, str]:
    """An amount in the scale the question asks for ("in USD billions" of a page printed in
    millions: the conversion is a calculation too), and that scale in words; the amount as it
    is and its page's scale when they agree or the question names none; "" when unknown."""
    printed = page_scales(passages[source - 1])
    if not printed and pages is not None:  # the scale line is in another passage of the page
        printed = next((scales for text, key in zip(passages, pages)
                        if key == pages[source - 1] and (scales := page_scales(text))), ())
    scale = printed[0] if len(printed) == 1 else None
    words = {value: word for word, value in _SCALE_WORDS.items()}
    asked = _ASKED_SCALE.search(question)
    if scale is None or asked is None or _SCALE_WORDS[asked.group(1).lower()] == scale:
        return calculation, f"in {words[scale]}" if scale in words else ""
    ratio = _SCALE_WORDS[asked.group(1).lower()] / scale
    factor = f"{round(ratio):,}" if ratio > 1 else f"{round(1 / ratio):,}"
    expression = calculation.expression
    operand = expression if _OPERATOR.search(expression) is None else f"({expression})"
    return calculate(f"{operand} {'/' if ratio > 1 else '*'} {factor}", passages), f"in {asked.group(1).lower()}"
