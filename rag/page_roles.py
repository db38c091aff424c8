"""What a page is: a financial statement (by its printed title) or a page of a named section.

A question about a quick ratio is answered on the balance sheet, one about capex on the
cash-flow statement; a question about a report's "methodology" on the pages under that
heading. Filings print their statements under a handful of fixed titles ("CONSOLIDATED
STATEMENTS OF OPERATIONS", "Consolidated Balance Sheets (unaudited)", "合并现金流量表"),
each as a line of its own above the table. The same words also appear in sentences
("… included in our Consolidated Balance Sheets."), in row labels, in note titles
("Supplemental Balance Sheet Information") and in the index that lists the statements;
none of those make a page a statement. So a title counts only when a whole line is one,
and a page that lists three or more statements is an index, not a statement.

Each chunk keeps a ``section``: the statement it sits under, else its page's section
path (rag/headings.py), else nothing. ``statement_kind`` reads the statement back out
of a section, so one stored string carries both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rag.headings import page_contexts

# Canonical statement names: the ones rag/metric_definitions.py uses for ``.statement``.
INCOME = "income statement"
BALANCE = "balance sheet"
CASH_FLOW = "cash flow statement"
EQUITY = "equity statement"
COMPREHENSIVE = "comprehensive income statement"
STATEMENTS = (INCOME, BALANCE, CASH_FLOW, EQUITY, COMPREHENSIVE)

TITLE_MAX_CHARS = 110
INDEX_MIN_TITLES = 3  # a page whose lines name this many different statements lists them
PATH_SEPARATOR = " › "

_OF = r"statements?\s+of\s+(?:consolidated\s+|condensed\s+|combined\s+)*"
_OWNERS = r"(?:(?:share|stock)holders|shareowners|owners|members|partners)['’]?\s+"
_INCOME_WORDS = r"(?:operations|income|earnings|(?:net\s+)?(?:income|earnings|loss)(?:\s+\(loss\))?)"
# Order matters: the first kind whose pattern matches a title wins (an "operations and
# comprehensive income" statement is the income statement).
_KINDS = (
    (EQUITY, rf"(?:{_OF}(?:changes\s+in\s+)?(?:total\s+)?(?:{_OWNERS})?(?:equity|deficit|capital)(?:\s+\(deficit\))?"
             rf"(?:,?\s+and\s+(?:comprehensive\s+(?:income|loss)(?:\s+\(loss\))?|redeemable\s+interests?))?"
             rf"|(?:{_OWNERS})?equity\s+statements?)"),
    (COMPREHENSIVE, rf"(?:{_OF}comprehensive\s+(?:income|loss|earnings)(?:\s+\((?:income|loss)\))?"
                    rf"|comprehensive\s+income\s+statements?)"),
    (INCOME, rf"(?:{_OF}{_INCOME_WORDS}(?:\s+and\s+comprehensive\s+(?:income|loss)(?:\s+\(loss\))?)?"
             rf"|income\s+statements?|statements?\s+of\s+(?:consolidated\s+)?results\s+of\s+operations)"),
    (BALANCE, rf"(?:balance\s+sheets?|{_OF}financial\s+(?:position|condition))"),
    (CASH_FLOW, rf"(?:{_OF}cash\s+flows?|cash\s+flows?\s+statements?)"),
)
_QUALIFIER = r"(?:u\.?s\.?\s+gaap|unaudited|interim|condensed|consolidated|consolidating|combined|group|company)"
_COMPANY_END = (r"(?:inc|incorporated|corp|corporation|company|companies|co|ltd|limited|plc|llc|l\.p|lp|n\.v|s\.a|ag"
                r"|se|subsidiaries|subsidiary|group|holdings)\.?,?")
_TITLE_CORE = (rf"(?P<title>(?:{_QUALIFIER}\s+)*(?:"
               + "|".join(f"(?P<k{i}>{pattern})" for i, (_, pattern) in enumerate(_KINDS)) + "))")
_TITLE = re.compile(
    rf"^(?:(?P<owner>[\w&.,'’\- ]{{2,60}}?)\s+)??{_TITLE_CORE}(?:\s+(?P<after>[\w&.,'’\- ]{{2,60}}?\b{_COMPANY_END}))?$",
    re.IGNORECASE,
)
# A page's first line may run on into the table's column labels after the company name:
# "Consolidated Statements of Changes in Shareholders’ Equity Corning Incorporated and
# Subsidiary Companies Additional paid-in …".
_TITLE_LEAD = re.compile(rf"^{_TITLE_CORE}\s+(?:[A-Z][\w&.,'’-]*\s+){{0,4}}{_COMPANY_END}(?:\s|$)", re.IGNORECASE)
_OWNER_END = re.compile(rf"\b{_COMPANY_END}$", re.IGNORECASE)
# A bare title ("Balance sheet", "INCOME STATEMENTS") heads a statement only at the top of
# a page; lower down it is a sub-heading of the MD&A or a note, or a table's column label.
_STRONG = re.compile(r"consolidat|condensed|combined|gaap", re.IGNORECASE)
TOP_LINES = 3
_NOT_A_STATEMENT = re.compile(r"\bnotes?\b|reconciliation|supplemental|segment", re.IGNORECASE)
# A line that continues a sentence: the previous line ends in one of these words or a comma.
_RUNS_ON = re.compile(r"(?:\b(?:the|on|in|of|our|its|and|or|to|from|within|into|as|these|this|their)|,)$",
                      re.IGNORECASE)
_NUMBER_LINE = re.compile(r"^[\divxlc\s.-]+$", re.IGNORECASE)  # a page number
SPLIT_TITLE_LINES = 8  # a title set one word a line ("CONSOLIDATED / BALANCE / SHEETS") is joined back
HEAD_SCAN_LINES = 12
SHORT_LINE_WORDS = 4
SHORT_ABOVE_WORDS = 8  # a bare title may sit under a company name, not under a sentence
# Chinese statement titles: 合并利润表, 母公司资产负债表, 合并现金流量表, 合并所有者权益变动表 …
_ZH_KINDS = ((EQUITY, r"(?:所有者|股东)权益变动表"), (INCOME, r"(?:利润表|损益表)"),
             (BALANCE, r"资产负债表"), (CASH_FLOW, r"现金流量表"))
_ZH_TITLE = re.compile(r"^(?:[\u4e00-\u9fff（）()]{0,20}?)?(?:合并|母公司|公司)?(?:"
                       + "|".join(f"(?P<z{i}>{p})" for i, (_, p) in enumerate(_ZH_KINDS)) + r")(?:（续）|\(续\))?$")
_CJK_GAP = re.compile(r"(?<=[\u4e00-\u9fff])\s+(?=[\u4e00-\u9fff])")
# "(in millions, except per share data)", "(unaudited)", "(continued)", "— continued"
_PARENTHETICAL = re.compile(r"\s*[(（](?!loss\)|deficit\)|income\)|续)[^()（）]*[)）]\s*", re.IGNORECASE)
_CONTINUED = re.compile(r"[\s,–—-]*\b(?:continued|cont['’]?d)\b\.?\s*$", re.IGNORECASE)
_SMALL_WORDS = frozenset("of and in the for to on".split())


@dataclass(frozen=True)
class StatementTitle:
    offset: int  # where the title's line starts in the page text
    kind: str  # one of STATEMENTS
    title: str  # as a reader would write it: "Consolidated Statements of Income"


_SPLIT_LAST_LETTER = re.compile(r"(?<=[a-z]{3}) ([a-z])$")  # "Statement of Incom e": text extraction split a word


def _normal(line: str) -> str:
    line = _SPLIT_LAST_LETTER.sub(r"\1", _CJK_GAP.sub("", " ".join(line.split())))
    line = _PARENTHETICAL.sub(" ", line).strip()
    return _CONTINUED.sub("", line).strip(" -–—")


def _display(title: str) -> str:
    """Upper-case titles in title case; the rest as printed."""
    if title.upper() != title:
        return title[0].upper() + title[1:]
    words = title.lower().split()
    return " ".join(w if i and w in _SMALL_WORDS else w[:1].upper() + w[1:] for i, w in enumerate(words))


def title_kind(line: str) -> tuple[str, str] | None:
    """(kind, display title) when the whole line is a statement's title, else None.

    A company name may come before or after the title ("3M Company and Subsidiaries
    Consolidated Balance Sheet", "Consolidated Balance Sheets GENERAL MILLS, INC. AND
    SUBSIDIARIES") when it ends like one (Inc., Corporation, Subsidiaries, …) or the title
    is printed in capitals; "Impact of derivatives on the Consolidated balance sheets" is a
    table's caption, and a line ending in a full stop or colon ends a sentence or labels a
    list.
    """
    line = _normal(line)
    if not line or len(line) > TITLE_MAX_CHARS:
        return None
    zh = _ZH_TITLE.match(line)
    if zh:
        kind = next(_ZH_KINDS[i][0] for i in range(len(_ZH_KINDS)) if zh.group(f"z{i}"))
        return kind, line
    match = _TITLE.match(line.rstrip(".:;,"))
    if not match:
        return None
    owner, title, after = match.group("owner"), match.group("title"), match.group("after")
    if line.endswith((":", ";", ",")) or (line.endswith(".") and not after):
        return None
    if owner and not (_OWNER_END.search(owner) or (title.isupper() and not owner.islower())):
        return None
    kind = next(_KINDS[i][0] for i in range(len(_KINDS)) if match.group(f"k{i}"))
    return kind, _display(title)


def _accepted(lines: list[str], i: int, title: str, top: set[int]) -> bool:
    """A title found on line ``i`` heads a statement: not the end of a sentence run over
    from the line before, and, when bare ("Balance sheet", "Statement of Earnings"), at the
    top of the page and not under a note's heading."""
    above = [line.strip() for line in lines[:i] if line.strip()]
    if above and _RUNS_ON.search(above[-1]):  # "… recorded on the / Consolidated Balance Sheets"
        return False
    if _STRONG.search(title):
        return True
    return i in top and not any(_NOT_A_STATEMENT.search(line) or len(line.split()) > SHORT_ABOVE_WORDS
                                for line in above)


def _head_titles(lines: list[str], content: list[int], top: set[int]) -> list[tuple[int, tuple[str, str]]]:
    """A title set one or two words a line at the top of a page ("SQUARE, / INC. /
    CONSOLIDATED / BALANCE / SHEETS"), joined back: [(line index, hit)]."""
    head = content[:HEAD_SCAN_LINES]
    for n, i in enumerate(head[:TOP_LINES]):
        longest = None
        for m in range(n + 2, min(len(head), n + SPLIT_TITLE_LINES) + 1):
            part = [lines[j] for j in head[n:m]]
            if len(part[-1].split()) > SHORT_LINE_WORDS:
                break
            hit = title_kind(" ".join(part))
            if hit and _accepted(lines, i, hit[1], top):
                longest = hit
        if longest:
            return [(i, longest)]
    return []


def statement_titles(text: str) -> list[StatementTitle]:
    """The statement titles printed as lines of ``text``, in order; [] for an index page."""
    lines = text.split("\n")
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line) + 1)
    content = [i for i, line in enumerate(lines) if line.strip() and not _NUMBER_LINE.match(line.strip())]
    top = set(content[:TOP_LINES])
    found = [StatementTitle(offsets[i], *hit) for i, hit in ((i, title_kind(line)) for i, line in enumerate(lines))
             if hit and _accepted(lines, i, hit[1], top)]
    if not found and content:
        lead = _TITLE_LEAD.match(_normal(lines[content[0]]))
        if lead and _STRONG.search(lead.group("title")):
            kind = next(_KINDS[i][0] for i in range(len(_KINDS)) if lead.group(f"k{i}"))
            found.append(StatementTitle(offsets[content[0]], kind, _display(lead.group("title"))))
    if not found:
        found = [StatementTitle(offsets[i], *hit) for i, hit in _head_titles(lines, content, top)]
    if len({t.title.lower() for t in found}) >= INDEX_MIN_TITLES:
        return []
    if found and not any(_STRONG.search(t.title) for t in found) and _figure_share(lines) < BARE_TITLE_FIGURES:
        return []  # "BALANCE SHEET" over paragraphs: an accounting-policy heading, not the statement
    return found


def _figure_share(lines: list[str]) -> float:
    """Share of a page's lines that print a figure (1,234 or a number of three digits or more)."""
    lines = [line for line in lines if line.strip()]
    return sum(bool(_FIGURE_LINE.search(line)) for line in lines) / len(lines) if lines else 0.0


_FIGURE_LINE = re.compile(r"\d{1,3}(?:,\d{3})+|\d{3,}")
CONTINUED_FIGURE_SHARE = 0.6  # of a page's lines that print a figure, for an untitled continuation
BARE_TITLE_FIGURES = 0.3  # … for a page under a bare title ("BALANCE SHEET")


def _continues(text: str) -> bool:
    """An untitled page that carries on the previous page's statement: mostly rows of figures,
    and its first lines are not a note's, a reconciliation's or a segment table's heading."""
    lines = [line for line in text.split("\n") if line.strip()]
    if not lines or any(_NOT_A_STATEMENT.search(line) for line in lines[:2]):
        return False
    return _figure_share(lines) >= CONTINUED_FIGURE_SHARE


def page_statements(texts: Sequence[str]) -> list[list[StatementTitle]]:
    """The statement titles of each page of a document; a statement that runs over onto an
    untitled page of figures (a cash-flow statement's second page) carries its title there."""
    pages: list[list[StatementTitle]] = []
    previous: list[StatementTitle] = []
    for text in texts:
        titles = statement_titles(text)
        if not titles and previous and _continues(text):
            titles = [StatementTitle(0, previous[-1].kind, previous[-1].title)]
        pages.append(titles)
        previous = titles
    return pages


def statement_kind(section: str | None) -> str | None:
    """The statement a stored ``section`` names (the first part of a path), else None."""
    if not section:
        return None
    hit = title_kind(section.split(PATH_SEPARATOR)[0])
    return hit[0] if hit else None


def first_statement_pages(pages: Iterable[tuple[int, str]]) -> dict[str, list[int]]:
    """Each statement's first run of pages in a document, from (page, statement) pairs.

    A 10-K prints the company's consolidated statements once, in Item 8; the same titles
    head a guarantor's condensed consolidating statements, a parent-only schedule or an
    exhibit's statements further on (MGM Resorts' 2018 10-K prints "Consolidated Balance
    Sheets" on pages 57, 95 and 174, and page 174's accounts payable are another company's).
    The first run, a statement over consecutive pages included, is the company's own."""
    runs: dict[str, list[int]] = {}
    for page, kind in sorted(set(pages)):
        run = runs.setdefault(kind, [page])
        if run[-1] == page - 1:
            run.append(page)
    return runs


def section_at(titles: Sequence[StatementTitle], start: int, end: int, path: Sequence[str]) -> str:
    """The section of the chunk at ``start:end`` of its page: the statement whose title is
    the last one before the chunk's middle (or inside the chunk, for the chunk that holds
    the first title), else the page's section path (rag/headings.py), else ''."""
    middle = (start + end) // 2
    before = [t for t in titles if t.offset <= middle] or [t for t in titles if t.offset < end]
    if before:
        return before[-1].title if before[-1].offset <= middle else before[0].title
    return PATH_SEPARATOR.join(path)


def chunk_sections(page_texts: Sequence[str], chunks: Iterable[tuple[int, str]]) -> list[str]:
    """The section of each (1-based page, text) chunk of a document whose cleaned page texts
    are ``page_texts``: for chunks stored before sections existed (KnowledgeBase.fill_sections),
    found again from the pages without re-embedding anything."""
    paths = [context.path for context in page_contexts(list(page_texts))]
    titles = page_statements(page_texts)
    found = []
    for page, text in chunks:
        if not 1 <= page <= len(page_texts):
            found.append("")
            continue
        start = max(0, page_texts[page - 1].find(text[:80]))
        found.append(section_at(titles[page - 1], start, start + len(text), paths[page - 1]))
    return found


# --- questions ------------------------------------------------------------------------------

_QUESTION_STATEMENTS = (
    (INCOME, r"income\s+statements?|statements?\s+of\s+(?:operations|income|earnings)|p\s*&\s*l|profit\s+and\s+loss"
             r"|利润表|损益表"),
    (BALANCE, r"balance\s+sheets?|statements?\s+of\s+financial\s+position|资产负债表"),
    (CASH_FLOW, r"cash[\s-]+flows?(?:\s+statements?)?|statements?\s+of\s+cash\s+flows?|现金流量表"),
    (EQUITY, r"statements?\s+of\s+(?:changes\s+in\s+)?(?:(?:share|stock)holders['’]?\s+)?equity|权益变动表"),
    (COMPREHENSIVE, r"comprehensive\s+income\s+statements?|statements?\s+of\s+comprehensive\s+income"),
)
_QUESTION_PATTERNS = tuple((kind, re.compile(rf"(?<![\w]){p}", re.IGNORECASE)) for kind, p in _QUESTION_STATEMENTS)


def statements_for(question: str) -> list[str]:
    """The statements a question names in its own words ("balance sheet", "cash flow",
    "资产负债表"), in canonical names; [] when it names none. The metric catalogue
    (rag/metric_definitions.py) knows the statements of line items the question names."""
    text = _CJK_GAP.sub("", question)
    return [kind for kind, pattern in _QUESTION_PATTERNS if pattern.search(text)]


def canonical_statement(name: str) -> str | None:
    """'cash_flow', 'Cash flows', 'balance sheet', 'income_statement' → a canonical name, else None."""
    words = " ".join(name.lower().replace("_", " ").replace("-", " ").split())
    if words in STATEMENTS:
        return words
    for kind in STATEMENTS:
        if words and (kind.startswith(words) or words.rstrip("s") == kind.removesuffix(" statement")):
            return kind
    found = statements_for(words)
    return found[0] if found else None


# --- sections a question names ----------------------------------------------------------------

_WORD = re.compile(r"[^\W\d_]{3,}")
# Words every section path has; a question naming them names no section.
_GENERIC = frozenset(
    "item part chapter section appendix note notes and the for other data information financial statements "
    "statement report supplementary general summary overview introduction".split())


def _stem(word: str) -> str:
    word = word.lower()
    return word[:-1] if word.endswith("s") and not word.endswith("ss") else word


def section_words(section: str) -> set[str]:
    """Content words of the section path's last heading (lower-cased, plural-free)."""
    last = section.split(PATH_SEPARATOR)[-1]
    return {_stem(w) for w in _WORD.findall(last)} - _GENERIC


def names_section(question: str, section: str | None) -> bool:
    """The question names the section: every content word of its heading (at least one, and
    not only generic words) appears in the question. "What are the risk factors …" names
    "Item 1A. Risk Factors"; "methodology" names "3. Methodology"."""
    if not section or statement_kind(section):
        return False
    wanted = section_words(section)
    if not wanted or len(wanted) > 4:
        return False
    asked = {_stem(w) for w in _WORD.findall(question)}
    return wanted <= asked


def matches_section(section: str | None, wanted: str) -> bool:
    """``wanted`` (an API filter) names the section's statement ("balance sheet", "cash_flow":
    statements only, not a note about one), or else is part of the section ("risk factors");
    case-insensitive."""
    if not section:
        return False
    kind = canonical_statement(wanted)
    if kind is not None:
        return statement_kind(section) == kind
    return " ".join(wanted.lower().split()) in section.lower()
