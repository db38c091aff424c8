"""Financial metrics a question names, their definitions for the answer prompt, and label queries.

A 1.5B model asked for a quick ratio divides the wrong lines; a search for "capex" misses the
page that prints "Purchases of property and equipment". Both need the same knowledge: what
each metric is over which line items, and how filings print those line items. That knowledge
is data (rag/metrics.toml, labels counted on real filings), and this module only reads it:

* ``metrics_in`` / ``line_items_in``: what a question names (English or Chinese; the longest
  name wins, so "fixed asset turnover" is not also "asset turnover").
* ``definitions_prompt``: a short block for the answer prompt, unless the question defines the
  metric itself (FinanceBench often does: its definition wins, ``defines_itself``).
* ``label_queries``: search phrasings made of a statement's title and a line item's printed
  labels, fused like the model's phrasings (rag/retriever.py).
* ``calls_for_arithmetic``: whether the question asks for a figure worked out from others (a
  metric it names, or words such as "growth", "percent", "average", 增长, 平均).
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

from rag.language import is_chinese

METRICS_FILE = Path(__file__).with_name("metrics.toml")
MAX_LABEL_QUERIES = 6  # each costs one dense and one keyword search
LABELS_PER_QUERY = 3  # the most printed ones: the data lists labels most printed first
LABELS_IN_PROMPT = 2
_RATIO = r"(?:[\s\-]+ratio)?"

# FinanceBench and users define a metric in the question: "DPO is defined as: 365 * ...",
# "Define working capital ratio as ...", "FCF here is defined as ...", "using FY2022 Adjusted
# EBIT as the numerator", "Calculate unadjusted EBITDA using ...", "X = A / B", 定义为, 计算公式.
_DEFINES = re.compile(
    r"\bdefined\s+as\b|\bdefine\s+[^.?!]{1,80}?\s+as\b|\bcalculated\s+as\b|\bcomputed\s+as\b"
    r"|\b(?:use|using)\s+the\s+formula\b|\bformula\b\s*[:=]|\bas\s+the\s+(?:numerator|denominator)\b"
    r"|\bcalculate\s+[^.?!,;]{1,60}?(?<!\bby)\s+using\b|[A-Za-z)\]]\s*=\s*[A-Za-z(\d]"
    r"|定义为|定义是|计算公式|公式为|计算方法|计算方式",
    re.IGNORECASE,
)

# Words that ask for a figure worked out from printed ones. "Change" alone and 变化 alone ask
# how something changed as often as by how much ("What drove gross margin change?",
# "是怎么变化的？"): only their quantitative forms count; "grew up" and "how many times does X
# appear" are no arithmetic.
_ARITHMETIC = re.compile(
    r"\b(?:ratios?|margins?|growth|grow|grew(?! up)|grown|increas\w*|decreas\w*|declin\w*|differen\w*"
    r"|percent\w*|averages?|mean of|total|sum|combined|turnover|cagr|yoy|year[- ]over[- ]year|proportion"
    r"|share of|per|calculat\w*|comput\w*|multiple|how much [^?]{0,60}?chang\w*"
    r"|times (?:more|less|larger|smaller|higher|lower|as))\b|%"
    r"|比率|比例|增长|增加|减少|下降|下滑|变化了?多少|变化幅度|差额|相差|合计|总计|总和|平均|百分|多少倍"
    r"|计算|占比|增幅|降幅",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class LineItem:
    """A line of a financial statement and the labels filings print it under."""

    name: str
    labels: tuple[str, ...]
    labels_zh: tuple[str, ...]
    statement: str  # "income statement", "balance sheet" or "cash flow statement"
    aliases: tuple[str, ...] = ()  # what questions call it but statements do not print ("capex", "COGS")
    key: str = ""  # its name in rag/metrics.toml, as a metric's ``compute`` names it
    outflow: bool = False  # printed as a negative cash flow ("(1,699)") and used as its size


@dataclass(frozen=True)
class Metric:
    """A metric, its formula over line items, and whether it averages two year-end balances."""

    key: str
    names: tuple[str, ...]
    names_zh: tuple[str, ...]
    formula: str
    formula_zh: str
    line_items: tuple[LineItem, ...]
    average: bool
    note: str
    # The formula as code computes it (rag/metric_calculation.py): line item keys, ``key[-1]``
    # for the year before, numbers, + - * / ( ); "" when code does not compute it.
    compute: str = ""
    kind: str = "ratio"  # "amount" (in the page's currency and scale), "percent" or "ratio"
    variants: tuple[tuple[str, str], ...] = ()  # (words in the question, the compute they choose)


@dataclass(frozen=True)
class Statement:
    name: str
    name_zh: str
    title: str  # how filings head it; starts each label query
    title_zh: str


@dataclass(frozen=True)
class Catalogue:
    statements: dict[str, Statement]  # by name ("balance sheet")
    line_items: tuple[LineItem, ...]
    metrics: tuple[Metric, ...]
    items_by_key: dict[str, LineItem]


def _strings(table: dict, key: str) -> tuple[str, ...]:
    return tuple(str(v) for v in table.get(key, ()))


@functools.lru_cache(maxsize=4)
def load_catalogue(path: Path | None = None) -> Catalogue:
    """Statements, line items and metrics from ``path`` (the shipped rag/metrics.toml by default)."""
    data = tomllib.loads((path or METRICS_FILE).read_text(encoding="utf-8"))
    statements = {key: Statement(t["name"], t["name_zh"], t["title"], t["title_zh"])
                  for key, t in data["statements"].items()}
    items = {key: LineItem(t["name"], _strings(t, "labels"), _strings(t, "labels_zh"),
                           statements[t["statement"]].name, _strings(t, "aliases"), key,
                           bool(t.get("outflow", False)))
             for key, t in data["line_items"].items()}
    metrics = tuple(
        Metric(key, _strings(t, "names"), _strings(t, "names_zh"), t["formula"], t["formula_zh"],
               tuple(items[name] for name in t["line_items"]), bool(t.get("average", False)), t.get("note", ""),
               t.get("compute", ""), t.get("kind", "ratio"),
               tuple((v["when"], v["compute"]) for v in t.get("variants", ())))
        for key, t in data["metrics"].items())
    return Catalogue({s.name: s for s in statements.values()}, tuple(items.values()), metrics,
                     {item.key: item for item in items.values()})


def load_metrics(path: Path | None = None) -> tuple[Metric, ...]:
    """Every metric of ``path`` (the shipped rag/metrics.toml by default); read once."""
    return load_catalogue(path).metrics


# --- finding names in a question ----------------------------------------------------------------

def _normalise(text: str) -> str:
    return text.lower().replace("\u2019", "'").replace("\u2018", "'").replace("\uff05", "%")


def _phrase_pattern(phrase: str, suffix: str = "") -> str:
    """A name as a regex: case and spacing free, "-", "," or " " between words, "&" for "and",
    an optional apostrophe and plural "s", whole words at Latin edges (none in Chinese);
    ``suffix`` an optional tail (a metric's " ratio", so "fixed asset turnover ratio" is
    longer than "asset turnover ratio")."""
    words = [w for w in re.split(r"[\s\-,]+", _normalise(phrase)) if w]
    parts = ["(?:and|&)" if w == "and" else re.escape(w).replace("'", "'?") for w in words]
    body = r"[\s\-,]*".join(parts)
    if re.match(r"\w", words[0]) and not is_chinese(words[0]):
        body = r"(?<!\w)" + body
    if re.search(r"\w$", words[-1]) and not is_chinese(words[-1][-1]):
        body += r"s?" + suffix + r"(?!\w)"
    return body


@functools.lru_cache(maxsize=8)
def _matchers(path: Path | None) -> list[tuple[re.Pattern, int, Metric | LineItem]]:
    """Every metric name and line-item name, alias and label as a pattern; metrics first, so a
    name that is both ("capex") counts as the metric, which brings its line items along."""
    catalogue = load_catalogue(path)
    metrics = [(m, n) for m in catalogue.metrics for n in (*m.names, *m.names_zh)]
    items = [(i, n) for i in catalogue.line_items for n in (i.name, *i.aliases, *i.labels, *i.labels_zh)]
    return [(re.compile(_phrase_pattern(name, _RATIO if isinstance(thing, Metric) else "")), order, thing)
            for order, (thing, name) in enumerate([*metrics, *items])]


@functools.lru_cache(maxsize=256)  # the turn asks for the prompt block and the label queries of one question
def _named(question: str, path: Path | None) -> tuple[Metric | LineItem, ...]:
    """The metrics and line items ``question`` names, in order of appearance; where names
    overlap the longest wins ("fixed asset turnover" is not also "asset turnover", and the
    "inventory" of "inventory turnover" is the metric's, not a line item named on its own)."""
    text = _normalise(question)
    spans = [(match.start(), match.end(), order, thing)
             for pattern, order, thing in _matchers(path) for match in pattern.finditer(text)]
    taken: list[tuple[int, int]] = []
    kept = []
    for start, end, _, thing in sorted(spans, key=lambda s: (s[0] - s[1], s[2])):
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        kept.append((start, thing))
    return tuple(dict.fromkeys(thing for _, thing in sorted(kept, key=lambda k: k[0])))


def metrics_in(question: str, path: Path | None = None) -> list[Metric]:
    """The metrics ``question`` names, in the order it names them."""
    return [thing for thing in _named(question, path) if isinstance(thing, Metric)]


def line_items_in(question: str, path: Path | None = None) -> list[LineItem]:
    """Line items the question names itself, then those of the metrics it names (no repeats)."""
    named = _named(question, path)
    direct = [thing for thing in named if isinstance(thing, LineItem)]
    needed = [item for thing in named if isinstance(thing, Metric) for item in thing.line_items]
    return list(dict.fromkeys([*direct, *needed]))


def calls_for_arithmetic(question: str, path: Path | None = None) -> bool:
    """Whether answering ``question`` may need arithmetic: it names a metric of the catalogue or
    asks for a ratio, change, share, total or average. Only such turns get the calculator's
    instructions (rag/strategies/compute.py): over a paper or a manual they made the 1.5B
    decline answerable questions and copy the examples' made-up figures (BENCHMARKS.md §3b'')."""
    return bool(_ARITHMETIC.search(question)) or bool(metrics_in(question, path))


def defines_itself(question: str) -> bool:
    """Whether the question gives its own formula ("DPO is defined as ...", "计算公式为 ...")."""
    return bool(_DEFINES.search(question))


# --- what joins the prompt and the search -------------------------------------------------------

def _where_printed(metric: Metric, chinese: bool, statements: dict[str, Statement]) -> str:
    """'balance sheet: "inventories", "total current assets" or ...' grouped by statement; a
    line item's two most printed labels while the metric has few line items, else its first."""
    per_item = LABELS_IN_PROMPT if len(metric.line_items) <= 2 else 1
    by_statement: dict[str, list[str]] = {}
    for item in metric.line_items:
        labels = (item.labels_zh if chinese else item.labels)[:per_item]
        if labels:
            quoted = [f"“{label}”" if chinese else f'"{label}"' for label in labels]
            by_statement.setdefault(item.statement, []).append(("或" if chinese else " or ").join(quoted))
    if chinese:
        return "；".join(f"{statements[name].name_zh}：{'、'.join(items)}" for name, items in by_statement.items())
    return "; ".join(f"{name}: {', '.join(items)}" for name, items in by_statement.items())


def _metric_line(metric: Metric, chinese: bool, statements: dict[str, Statement]) -> str:
    if chinese:
        line = f"- {metric.names_zh[0] if metric.names_zh else metric.names[0]} = {metric.formula_zh}。"
        line += f"{_where_printed(metric, True, statements)}。"
        if metric.average:
            line += "余额取两个年末的平均值（只印了一年时用该年余额并说明）。"
        return line
    line = f"- {metric.names[0]} = {metric.formula}. Printed in the {_where_printed(metric, False, statements)}."
    if metric.average:
        line += " Use the average of the two year-end balances; if only one is printed, use it and say so."
    if metric.note:
        line += f" {metric.note}"
    return line


def definitions_prompt(question: str, path: Path | None = None) -> str:
    """The named metrics' definitions for the answer prompt, in the question's language; "" when
    the question names none or defines its metric itself (then its own definition wins)."""
    metrics = metrics_in(question, path)
    if not metrics or defines_itself(question):
        return ""
    chinese = is_chinese(question)
    statements = load_catalogue(path).statements
    head = "指标定义：" if chinese else "Definitions:"
    return "\n".join([head, *(_metric_line(m, chinese, statements) for m in metrics)])


def label_queries(question: str, path: Path | None = None) -> list[str]:
    """Search phrasings for the line items the question names or needs: the statement's title and
    the item's most printed labels, e.g. "consolidated statements of cash flows capital
    expenditures capital spending purchases of property and equipment" for "capex"; [] when the
    question names none. A Chinese question gets the Chinese labels and the English ones too: it
    may well be asked of an English filing. With the title, all 54 filings went from recall@5
    0.58 to 0.74 at weight 1 (0.68 without it; bench/label_recall.py)."""
    statements = load_catalogue(path).statements
    chinese = is_chinese(question)
    queries = []
    for item in line_items_in(question, path)[:MAX_LABEL_QUERIES]:
        statement = statements[item.statement]
        if chinese and item.labels_zh:
            queries.append(" ".join([statement.title_zh, *item.labels_zh[:LABELS_PER_QUERY]]))
        if item.labels:
            queries.append(" ".join([statement.title, *item.labels[:LABELS_PER_QUERY]]))
    return list(dict.fromkeys(queries))
