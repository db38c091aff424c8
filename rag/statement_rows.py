"""The rows of a financial statement as a passage prints them: label, one cell per year.

docchat's text cleaning (rag/text_cleaning.py) writes a table row as
``Total revenue: 17,606 | 15,785 | 12,868`` and leaves the column headings above the
first row (``Years Ended … 2022 … 2021 … 2020``, in the filing's own order: Amazon prints
2015 2016 2017). ``statement_rows`` pairs each row's cells with the years of the nearest
heading above it, so code can read "total revenue in 2021" without the model choosing a
line or a column — the work a 1.5B model gets wrong most often (issue 33).

A statement page is often split over several passages; a passage whose rows have no year
heading of their own borrows the heading of another passage of the same page. Rows whose
cell count differs from the heading's year count are kept without years: which cell is
which year is then unknown, and a wrong column is worse than none.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Hashable, Sequence

_ROW = re.compile(r"^(?P<label>[^:|]{2,160}?):\s*(?P<cells>[^:]*\|[^:]*|[^:|]*\d[^:|]*)$")
_CELL = re.compile(r"^\s*(?:US)?\$?\s*(?P<neg>\()?\s*\$?\s*(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
                   r"\s*\)?\s*%?\s*$")
_DASH = re.compile(r"^\s*\$?\s*[—–-]+\s*$")
_YEAR = re.compile(r"(?<![\d,.$])(19[5-9]\d|20[0-4]\d)(?![\d.%]|,\d)")
_LEADING_DOTS = re.compile(r"[\s.…·]+$")


@dataclass(frozen=True)
class Row:
    """One printed row: its label, its cells as printed, their values, and the year of each
    cell when the heading above names as many years as the row has cells."""

    label: str
    cells: tuple[str, ...]
    values: tuple[float | None, ...]  # "(112)" is -112, "—" is 0, a non-number None
    years: tuple[int, ...]  # () when the columns' years are unknown
    passage: int  # 1-based, as the prompt numbers the passages
    statement: str | None = None  # the statement its page is (rag/page_roles.py), when the caller knows
    group: str = ""  # the last line above it that is no row ("Diluted earnings per share attributable to …")

    def at(self, year: int) -> tuple[str, float] | None:
        """The cell for ``year`` (as printed, without "$" or parentheses) and its signed value."""
        if year not in self.years:
            return None
        i = self.years.index(year)
        value = self.values[i]
        if value is None:
            return None
        return _plain(self.cells[i]), value


def statement_rows(passages: Sequence[str], pages: Sequence[Hashable] | None = None,
                   headings: Sequence[tuple[Hashable, str]] = ()) -> list[Row]:
    """Every table row of ``passages`` with its columns' years. ``pages`` (one key per
    passage, e.g. (document, page)) lets a passage borrow the year heading of another
    passage of the same page; ``headings`` are more (page key, text) pairs to borrow from
    (the page's first chunk, when search did not return it), whose rows are not returned."""
    keys = list(pages) if pages is not None else list(range(len(passages)))
    page_years: dict[Hashable, tuple[int, ...]] = {}
    parsed = [_rows(text) for text in passages]
    for key, first_years in [*((k, years) for k, (_, years) in zip(keys, parsed)),
                             *((k, _rows(text)[1]) for k, text in headings)]:
        if first_years and key not in page_years:
            page_years[key] = first_years
    rows: list[Row] = []
    for number, (key, (found, _)) in enumerate(zip(keys, parsed), 1):
        for label, cells, years, group in found:
            years = years or page_years.get(key, ())
            values = tuple(_value(cell) for cell in cells)
            rows.append(Row(label, cells, values, years if len(years) == len(cells) else (), number, group=group))
    return rows


def _rows(text: str) -> tuple[list[tuple[str, tuple[str, ...], tuple[int, ...], str]], tuple[int, ...]]:
    """The rows of one passage, each with the years of the heading above it (or ()) and its
    group line, and the years of the first heading (for the other passages of its page)."""
    rows: list[tuple[str, tuple[str, ...], tuple[int, ...], str]] = []
    group = ""
    heading: list[int] = []  # years met since the last row
    heading_line: list[int] = []  # the last line since then that names two years or more
    current: tuple[int, ...] = ()
    first: tuple[int, ...] = ()
    for line in text.splitlines():
        match = _ROW.match(line.strip())
        cells = tuple(c.strip() for c in match.group("cells").split("|")) if match else ()
        if match and any(_value(c) is not None for c in cells) and not _is_heading(cells):
            label = match.group("label")
            in_label = _YEAR.findall(label)
            if len(in_label) >= 2:  # "Years Ended December 31, 2021 2020 2019 Operating revenues: …"
                heading = [int(y) for y in in_label]
                label = label[label.rfind(in_label[-1]) + 4:]
            years = heading_line or heading
            if len(years) >= 2:
                current = tuple(dict.fromkeys(years))
                first = first or current
            heading, heading_line = [], []
            rows.append((_LEADING_DOTS.sub("", label).strip(), cells, current, group))
        else:
            if rows:  # the lines above the first row are the table's heading, not a group
                group = line.strip() or group
            line_years = [int(y) for y in _YEAR.findall(line)]
            heading.extend(line_years)
            if len(line_years) >= 2:
                heading_line = line_years
    return rows, first


def _is_heading(cells: tuple[str, ...]) -> bool:
    """A heading set as a row ("Year Ended December: 31, | 2017 | 2016 | 2015"): its
    cells are years and the odd day of a date, no amounts."""
    years = [c for c in cells if _YEAR.fullmatch(c.strip())]
    return bool(years) and all(c in years or not re.fullmatch(r"\$?\s*\(?[\d,.]+\)?", c) or
                               re.fullmatch(r"\d{1,2},", c) for c in cells)


def _value(cell: str) -> float | None:
    if _DASH.match(cell):
        return 0.0
    match = _CELL.match(cell)
    if match is None:
        return None
    value = float(match.group("number").replace(",", ""))
    return -value if match.group("neg") else value


def _plain(cell: str) -> str:
    """A cell as an expression writes it: "$ (1,699)" is "1,699" (the sign is the value's)."""
    match = _CELL.match(cell)
    return match.group("number") if match else "0"
