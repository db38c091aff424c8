"""Table rows as 'label: value | value | value', so a row's label and numbers stay together.

A financial statement row printed as "Purchases of property and equipment (442) (348)
(419)" reads to an embedding model and to BM25 as one phrase followed by a number soup;
written "Purchases of property and equipment: (442) | (348) | (419)" the label is a clear
unit and the splitter's separators never cut between a label and its values. Only the
spacing and separators change: the words and numbers are the page's own, in its order.
"""

from __future__ import annotations

import re

# A value cell: a number with optional sign, currency, parentheses, percent; or a dash for "nil".
_VALUE = re.compile(r"^[(\-−]?[$€£¥]?\(?[-−]?\d[\d,]*(?:\.\d+)?\)?%?\)?$|^[—–-]$")
_CURRENCY = {"$", "€", "£", "¥"}
_LETTER = re.compile(r"[^\W\d_]")
MIN_VALUES = 2


def _cells(tokens: list[str]) -> list[str]:
    """Trailing value cells of a line, with a lone currency sign joined to its number."""
    cells: list[str] = []
    i = len(tokens) - 1
    while i >= 0:
        token = tokens[i]
        if _VALUE.match(token):
            if i > 0 and tokens[i - 1] in _CURRENCY:
                token = f"{tokens[i - 1]} {token}"
                i -= 1
            cells.append(token)
            i -= 1
            continue
        break
    cells.reverse()
    return cells


def format_row(line: str) -> str:
    """'Net income $ 596 $ 2,371' → 'Net income: $ 596 | $ 2,371'; other lines unchanged."""
    tokens = line.split()
    if len(tokens) < MIN_VALUES + 1:
        return line
    cells = _cells(tokens)
    n_value_tokens = sum(len(c.split()) for c in cells)
    label_tokens = tokens[: len(tokens) - n_value_tokens]
    if len(cells) < MIN_VALUES or not label_tokens or not _LETTER.search(" ".join(label_tokens)):
        return line
    label = " ".join(label_tokens).rstrip(":")
    return f"{label}: {' | '.join(cells)}"


def format_table_rows(text: str) -> str:
    """Every line that is a label followed by two or more values, as 'label: v | v'."""
    return "\n".join(format_row(line) for line in text.split("\n"))
