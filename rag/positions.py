"""Where each chunk sits on its page: character offsets and the rectangles of its words.

A citation is only checkable if the reader can see the passage, so ingestion records,
per chunk, the rectangles of its text on the page. The page's words come from
pypdfium2's text page (character boxes), or for a scanned page from Tesseract's word
boxes. The chunk is located by aligning its *words* with the page's words, not by
string search: cleaning, table reformatting and context prefixes change whitespace and
order of the chunk text, while the words themselves still match.

Rectangles are stored normalised to the page, origin top-left, ``[x0, y0, x1, y1]`` in
0..1, so a renderer at any width only has to scale them.
"""

from __future__ import annotations

import difflib
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

from rag.types import Chunk
from storage.positions import ChunkPosition, Rect

logger = logging.getLogger(__name__)

# A word: a run of ASCII letters/digits, or one character of any other script (CJK
# text has no spaces, so each character is a word; both sides are split the same way).
_TOKEN = re.compile(r"[0-9a-z]+|[^\x00-\x7f\s]", re.IGNORECASE)
_PUNCT = re.compile(r"^[\W_]$")
# pypdfium2 pages with fewer characters than this are read with OCR boxes instead.
MIN_TEXT_CHARS = 20
OCR_DPI = 200
# Matches shorter than this many words are noise (a "the" elsewhere on the page),
# unless the whole chunk is that short.
MIN_BLOCK = 2


@dataclass
class PageWords:
    """The words of one page: normalised tokens, their character spans and boxes."""

    number: int
    text: str
    tokens: list[str] = field(default_factory=list)
    spans: list[tuple[int, int]] = field(default_factory=list)
    boxes: list[Rect] = field(default_factory=list)  # OCR: normalised, one per token
    source: str = "text"  # 'text' (pypdfium2) or 'ocr' (Tesseract)
    # Text pages: rectangles of a character range, computed by pdfium (one call per
    # matched run instead of one per character: ~10x faster on a dense page).
    range_rects: Callable[[int, int], list[Rect]] | None = None


def tokenize(text: str) -> list[tuple[str, int, int]]:
    """(normalised word, start, end) for every word of ``text``; punctuation is skipped."""
    out = []
    for match in _TOKEN.finditer(text):
        word = match.group(0)
        if _PUNCT.match(word):
            continue
        out.append((word.lower(), match.start(), match.end()))
    return out


def _union(boxes: Iterable[Rect]) -> Rect:
    boxes = list(boxes)
    return [min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes)]


def text_page_words(textpage, number: int, width: float, height: float) -> PageWords:
    """Words of a pypdfium2 text page; their rectangles are asked of pdfium per matched run."""
    count = textpage.count_chars()
    text = textpage.get_text_range(0, count) if count else ""
    if len(text) != count:  # surrogate pairs or generated chars: read char by char
        text = "".join(textpage.get_text_range(i, 1) or " " for i in range(count))

    def range_rects(start: int, end: int) -> list[Rect]:
        rects = []
        for i in range(textpage.count_rects(start, end - start)):
            left, bottom, right, top = textpage.get_rect(i)
            if right > left and top > bottom:
                rects.append([left / width, 1 - top / height, right / width, 1 - bottom / height])
        return rects

    words = PageWords(number, text, range_rects=range_rects)
    for token, start, end in tokenize(text):
        words.tokens.append(token)
        words.spans.append((start, end))
    return words


def ocr_page_words(page, number: int) -> PageWords:
    """Words of a scanned page from Tesseract's word boxes (image_to_data)."""
    import pytesseract

    from rag.ocr import ocr_languages

    image = page.render(scale=OCR_DPI / 72).to_pil()
    data = pytesseract.image_to_data(image, lang=ocr_languages(), output_type=pytesseract.Output.DICT)
    width, height = image.size
    pieces: list[str] = []
    words = PageWords(number, "", source="ocr")
    offset = 0
    for raw, left, top, w, h in zip(data["text"], data["left"], data["top"], data["width"], data["height"]):
        raw = (raw or "").strip()
        if not raw:
            continue
        box = [left / width, top / height, (left + w) / width, (top + h) / height]
        for token, start, end in tokenize(raw):
            words.tokens.append(token)
            words.spans.append((offset + start, offset + end))
            words.boxes.append(box)
        pieces.append(raw)
        offset += len(raw) + 1
    words.text = " ".join(pieces)
    return words


def page_words(pdf, number: int, use_ocr: bool = True) -> PageWords:
    """The page's words from its text layer, or from OCR when it has (almost) none.

    The text page stays open (rectangles are read from it later); it is closed with the
    document.
    """
    page = pdf[number - 1]
    width, height = page.get_size()
    words = text_page_words(page.get_textpage(), number, width, height)
    if len(words.text.strip()) < MIN_TEXT_CHARS and use_ocr:
        from rag.ocr import ocr_available

        if ocr_available():
            try:
                words = ocr_page_words(page, number)
            except Exception as exc:  # a failed OCR only costs the highlight
                logger.warning("OCR word boxes failed on page %d: %s", number, exc)
    return words


def align(chunk_text: str, words: PageWords) -> list[int]:
    """Indices of the page words that the chunk's words match, in page order.

    ``SequenceMatcher`` finds the longest common runs; short runs far from the main
    match (a common word elsewhere on the page, a title in a context prefix) are dropped.
    """
    chunk_tokens = [t for t, _, _ in tokenize(chunk_text)]
    if not chunk_tokens or not words.tokens:
        return []
    matcher = difflib.SequenceMatcher(None, words.tokens, chunk_tokens, autojunk=False)
    blocks = [b for b in matcher.get_matching_blocks() if b.size]
    if not blocks:
        return []
    min_block = MIN_BLOCK if len(chunk_tokens) >= 2 * MIN_BLOCK else 1
    main = max(blocks, key=lambda b: b.size)
    reach = 2 * len(chunk_tokens)
    matched: list[int] = []
    for block in blocks:
        if block.size < min_block and block is not main:
            continue
        if abs(block.a - main.a) > reach:
            continue
        matched.extend(range(block.a, block.a + block.size))
    return sorted(set(matched))


def merge_lines(boxes: Sequence[Rect]) -> list[Rect]:
    """Join the boxes of consecutive words on one line into one rectangle per line run."""
    rects: list[Rect] = []
    for box in boxes:
        if rects:
            last = rects[-1]
            height = max(last[3] - last[1], box[3] - box[1], 1e-6)
            overlap = min(last[3], box[3]) - max(last[1], box[1])
            same_line = overlap > 0.5 * height and box[0] >= last[0] - 1e-6
            if same_line and box[0] - last[2] < 3 * height:
                rects[-1] = _union([last, box])
                continue
        rects.append(list(box))
    return [[round(v, 5) for v in r] for r in rects]


def locate(chunk: Chunk, words: PageWords) -> ChunkPosition | None:
    """The chunk's position on ``words``' page, or None when none of its words are there."""
    matched = align(chunk.text, words)
    if not matched:
        return None
    boxes: list[Rect] = []
    for first, last in _runs(matched):
        if words.range_rects is not None:
            boxes.extend(words.range_rects(words.spans[first][0], words.spans[last][1]))
        else:
            boxes.extend(words.boxes[first : last + 1])
    return ChunkPosition(
        chunk_id=chunk.id,
        document_id=chunk.document_id,
        page=words.number,
        char_start=words.spans[matched[0]][0],
        char_end=words.spans[matched[-1]][1],
        rects=merge_lines(boxes),
        source=words.source,
    )


def _runs(indices: list[int]) -> list[tuple[int, int]]:
    """Consecutive runs of sorted indices as (first, last) pairs."""
    runs: list[tuple[int, int]] = []
    for i in indices:
        if runs and i == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], i)
        else:
            runs.append((i, i))
    return runs


def locate_chunks(pdf_path: Path | str, chunks: Sequence[Chunk], use_ocr: bool = True) -> list[ChunkPosition]:
    """Positions of ``chunks`` (one document) in the PDF; pages are read once each."""
    import pypdfium2

    by_page: dict[int, list[Chunk]] = {}
    for chunk in chunks:
        by_page.setdefault(chunk.page, []).append(chunk)
    positions: list[ChunkPosition] = []
    pdf = pypdfium2.PdfDocument(str(pdf_path))
    try:
        for number in sorted(by_page):
            if not 1 <= number <= len(pdf):
                continue
            try:
                words = page_words(pdf, number, use_ocr)
            except Exception as exc:  # one odd page must not lose the others' highlights
                logger.warning("cannot read word boxes of page %d of %s: %s", number, Path(pdf_path).name, exc)
                continue
            for chunk in by_page[number]:
                position = locate(chunk, words)
                if position is not None:
                    positions.append(position)
    finally:
        pdf.close()
    return positions
