"""Page text from pdfium's text layer, row by row, with table rows written as 'label: v | v'.

pypdf writes text in content-stream order, so in many financial statements a row's
label lands at the end of one line and its numbers at the start of the next ("…2017 Net
product sales\\n$ 79,268 $ 94,665"). pdfium's text page keeps each printed row on one
line, is about twenty times faster than pypdf's extract_text on the FinanceBench
filings (5 s against well over 100 s for 552 pages), and is the same character source
the page viewer highlights from. The loader falls back to pypdf for any page pdfium
cannot read.

pdfium ends every printed line alike, so a paragraph's last line looks like a soft wrap;
pypdf keeps the PDF's trailing space there, and rag/text_cleaning.py joins only CJK lines
without one. A line clearly shorter than the page's full lines (a paragraph end or a
heading) gets that trailing space back here, so Chinese pages keep their paragraphs
(without it the whole page became one line and the zh paper's recall@5 fell 0.75 → 0.62).
"""

from __future__ import annotations

import logging
import unicodedata
from pathlib import Path

from rag.tables import format_table_rows

logger = logging.getLogger(__name__)

# pdfium marks a hyphen it saw at a line break with U+FFFE; the private-use bullets of
# symbol fonts carry no meaning.
_PDFIUM_FIXES = str.maketrans({"\ufffe": "-", "\r": None, "\uf0b7": "•"})


def pdfium_page_texts(path: Path) -> list[str] | None:
    """Text of every page (rows kept on one line, table rows formatted), or None if pdfium cannot open it."""
    try:
        import pypdfium2 as pdfium

        document = pdfium.PdfDocument(str(path))
    except Exception as exc:  # an odd file is left to pypdf, which gives the user-facing message
        logger.info("pdfium cannot open %s (%s); using pypdf", path.name, exc)
        return None
    texts: list[str] = []
    try:
        for index in range(len(document)):
            texts.append(_page_text(document, index))
    finally:
        document.close()
    return texts


def _page_text(document, index: int) -> str:
    try:
        page = document[index]
        try:
            textpage = page.get_textpage()
            try:
                raw = textpage.get_text_range()
            finally:
                textpage.close()
        finally:
            page.close()
    except Exception as exc:  # one bad page must not lose the document
        logger.warning("pdfium could not read page %d: %s", index + 1, exc)
        return ""
    return format_table_rows(mark_paragraph_ends(raw.translate(_PDFIUM_FIXES)))


# A line narrower than this share of the page's full line width ends a paragraph.
SHORT_LINE_SHARE = 0.8
# Lines narrower than this (in half-width cells) never set the page's full width.
MIN_FULL_WIDTH = 20
# The page's full width: this percentile of its lines' widths (a few overlong lines, e.g.
# a table row, do not set it).
FULL_WIDTH_PERCENTILE = 0.8


def display_width(line: str) -> int:
    """Width in half-width cells: a CJK character counts two, as it is printed."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def mark_paragraph_ends(text: str) -> str:
    """A trailing space on every line much shorter than the page's full lines (see module doc)."""
    lines = text.split("\n")
    widths = [display_width(line.rstrip()) for line in lines]
    full_widths = sorted(w for w in widths if w >= MIN_FULL_WIDTH)
    if not full_widths:
        return text
    full = full_widths[int(FULL_WIDTH_PERCENTILE * (len(full_widths) - 1))]
    return "\n".join(
        line + " " if 0 < width < SHORT_LINE_SHARE * full and not line.endswith(" ") else line
        for line, width in zip(lines, widths)
    )
