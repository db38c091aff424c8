"""Entity and period routing: a question that names a document's subject weighs that document up.

"What was 3M's capex in FY2018?" over fifty filings: the dense model sees "capex" far
more than "3M", and another company's cash-flow statement can win. The names a question
uses (capitalised words, tickers, "3M", years, "FY2018", "Q2") are looked up in each
document's title and first chunks; documents that match get an extra, restricted search
whose ranked lists join the fusion. Nothing is excluded, so a wrong match only adds
candidates. A term that names many documents ("Inc", "Company") tells nothing and is
ignored. Pure functions plus a small catalogue; nothing here knows about finance.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_WORD = re.compile(r"[^\W_][\w&'.-]*[^\W_]|[^\W_]", re.UNICODE)
_YEAR = re.compile(r"^(?:fy|cy)?'?((?:19|20)\d{2})$", re.IGNORECASE)
_SHORT_YEAR = re.compile(r"^fy'?(\d{2})$", re.IGNORECASE)
_QUARTER = re.compile(r"^(q[1-4])$", re.IGNORECASE)
# Capitalised words that start or shape a question rather than name something.
_QUESTION_WORDS = frozenset(
    "what which who whom whose when where why how is are was were do does did can could should would will "
    "the a an in on of for by to and or as at from with between among according based using if "
    "please give list tell describe explain compare calculate compute round answer assume provide "
    "fy cy q1 q2 q3 q4 us usd inc corp co company companies ltd plc llc group total net i".split())
MIN_PREFIX = 3  # a name this long also matches the start of a title word ("MGM" in "MGMRESORTS")
SHOUTING_WORDS = 4  # distinct upper-case words that make a question a shouting one
MAX_SHARE = 0.34  # a name found in more than this share of documents does not route
MAX_ROUTED = 3
# A name that no title holds routes only when one document's opening holds it, or several whose
# titles share a word ("JnJ" opens every JOHNSON_JOHNSON_* filing): "Code", "Section",
# "University" open unrelated papers and filings alike and, weighed up, pushed the right one out.
OPENING_ONLY_HOLDERS = 1


@dataclass
class QueryNames:
    names: set[str] = field(default_factory=set)  # lower-cased name tokens
    periods: set[str] = field(default_factory=set)  # years and quarters, e.g. "2018", "q2"


def _norm(token: str) -> str:
    return token.lower().strip(".'-").removesuffix("'s").removesuffix("’s")


def _shouted(tokens: list[str]) -> set[str]:
    """Upper-case words of a question that shouts ("TOP … DIAGRAM DISCUSSED ABOUT WHICH YEAR?"):
    with several of them they are emphasis, not acronyms or names, and route nowhere."""
    caps = {t for t in tokens if t.isupper() and t.isalpha() and len(t) > 1}
    return caps if len(caps) >= SHOUTING_WORDS else set()


def query_names(question: str) -> QueryNames:
    """Name and period tokens of a question; the first word counts only if it is not a question word."""
    found = QueryNames()
    tokens = _WORD.findall(question)
    shouted = _shouted(tokens)
    for i, token in enumerate(tokens):
        if token in shouted:
            continue
        year = _YEAR.match(token) or _SHORT_YEAR.match(token)
        if year:
            value = year.group(1)
            found.periods.add(value if len(value) == 4 else f"20{value}")
            continue
        if _QUARTER.match(token):
            found.periods.add(token.lower())
            continue
        word = _norm(token)
        if not word or word in _QUESTION_WORDS or word.isdigit():
            continue
        capitalised = token[0].isupper() or any(c.isdigit() for c in token) and any(c.isalpha() for c in token)
        if capitalised and (i > 0 or token.isupper() or any(c.isdigit() for c in token)):
            found.names.add(word)
    return found


def document_terms(text: str) -> set[str]:
    """Lower-cased word tokens of a document's title and opening text (and their year forms)."""
    terms = {_norm(t) for t in _WORD.findall(text)}
    terms |= {w for t in terms for w in re.split(r"[.&'-]", t) if w}
    terms |= {w for t in terms for w in re.findall(r"[^\W\d_]+|\d+", t)}  # "2022q4" → "2022", "q4"
    terms |= {f"q{w[1]}" for w in terms if re.fullmatch(r"\dq", w)}  # "4Q" → "q4"
    return terms


def in_title(name: str, title: set[str]) -> bool:
    """The name is a title word, or starts one: file names run words together ("MGMRESORTS_2022")."""
    return name in title or (len(name) >= MIN_PREFIX and any(t.startswith(name) for t in title))


def _names_a_family(name: str, catalogue: dict[str, tuple[set[str], set[str]]]) -> bool:
    """The name is in a title, or the documents whose openings hold it are one document or one
    family: their titles share a word of letters (a company, a product), not only "10k" or a year."""
    titles = [title for title, body in catalogue.values() if in_title(name, title) or name in body]
    if len(titles) <= OPENING_ONLY_HOLDERS or any(in_title(name, title) for title in titles):
        return True
    shared = set.intersection(*titles) if titles else set()
    return any(len(word) >= MIN_PREFIX and word.isalpha() for word in shared)


def route(question: str, catalogue: dict[str, tuple[set[str], set[str]]],
          restrict: list[str] | None = None) -> list[str]:
    """Document ids the question names, best first (at most MAX_ROUTED); [] when it names none.

    ``catalogue`` maps a document to (title terms, opening-text terms). A name in the title
    scores 3, one only in the opening text 1, a period 1; only documents with a name match
    are routed, and only names held by few documents count.
    """
    wanted = query_names(question)
    if not wanted.names or not catalogue:
        return []
    ids = [d for d in catalogue if restrict is None or d in restrict]
    limit = max(1, int(MAX_SHARE * len(catalogue)))
    holders = {n: sum(in_title(n, title) or n in body for title, body in catalogue.values()) for n in wanted.names}
    useful = {n for n, count in holders.items() if 0 < count <= limit and _names_a_family(n, catalogue)}
    scored = []
    for document_id in ids:
        title, body = catalogue[document_id]
        names = sum(3 if in_title(n, title) else 1 if n in body else 0 for n in useful)
        if names:
            periods = sum(2 if p in title else 1 if p in body else 0 for p in wanted.periods)
            scored.append((names + periods, document_id))
    if not scored:
        return []
    scored.sort(key=lambda pair: pair[0], reverse=True)
    best = scored[0][0]
    return [d for score, d in scored if score == best][:MAX_ROUTED]
