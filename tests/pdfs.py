"""PDF factory for tests: real PDFs generated on the fly, never checked into the repo.

Every test that needs a PDF builds it here so the inputs are small, known and
reproducible: plain English or Chinese text pages, AES-encrypted ones (real SEC filings
are encrypted with an empty user password), image-only "scans" for the OCR path, and
broken files for the error paths.
"""

from __future__ import annotations

import io
import os
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

# reportlab's built-in CID font: no font file needed, and pypdf extracts it back as Chinese.
CJK_FONT = "STSong-Light"
LATIN_FONT = "Helvetica"
FONT_SIZE = 11
LINE_HEIGHT = 15
MARGIN = 56
# Characters per line: Latin text is wrapped on words, CJK text on characters.
LATIN_WIDTH = 90
CJK_WIDTH = 40

IMAGE_FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf",
)
IMAGE_DPI = 150


def _wrap(text: str, cjk: bool) -> list[str]:
    """Wrap each paragraph to the page width; an empty line separates paragraphs."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        if not paragraph.strip():
            lines.append("")
        elif cjk:
            lines.extend(paragraph[i : i + CJK_WIDTH] for i in range(0, len(paragraph), CJK_WIDTH))
        else:
            lines.extend(textwrap.wrap(paragraph, LATIN_WIDTH) or [""])
    return lines


def _draw_text_page(c: canvas.Canvas, text: str, cjk: bool) -> None:
    font = CJK_FONT if cjk else LATIN_FONT
    if cjk and CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(CJK_FONT))
    _, height = A4
    y = height - MARGIN
    c.setFont(font, FONT_SIZE)
    for line in _wrap(text, cjk):
        if y < MARGIN:  # too long for one page: the rest is cut, tests keep pages short
            break
        c.drawString(MARGIN, y, line)
        y -= LINE_HEIGHT


def _page_image(text: str) -> Image.Image:
    """Render ``text`` as a white A4 page at IMAGE_DPI with a big clear font (Tesseract-friendly)."""
    width, height = int(A4[0] / 72 * IMAGE_DPI), int(A4[1] / 72 * IMAGE_DPI)
    image = Image.new("L", (width, height), color=255)
    draw = ImageDraw.Draw(image)
    font_path = next((p for p in IMAGE_FONT_CANDIDATES if os.path.exists(p)), None)
    size = 28
    font = ImageFont.truetype(font_path, size) if font_path else ImageFont.load_default(size=size)
    y = 100
    for line in textwrap.wrap(" ".join(text.split()), 50):
        draw.text((100, y), line, fill=0, font=font)
        y += int(size * 1.6)
    return image


def _draw_image_page(c: canvas.Canvas, text: str) -> None:
    from reportlab.lib.utils import ImageReader

    buffer = io.BytesIO()
    _page_image(text).save(buffer, format="PNG")
    buffer.seek(0)
    width, height = A4
    c.drawImage(ImageReader(buffer), 0, 0, width=width, height=height)


def make_pdf(
    path: Path | str,
    pages: list[str],
    *,
    cjk: bool = False,
    password: str | None = None,
    image_only: bool = False,
) -> Path:
    """Write a PDF with one page per string in ``pages`` and return its path.

    ``cjk`` draws with the STSong-Light CID font (Chinese text). ``password`` encrypts with
    AES-128: ``""`` means an empty user password (opens without asking, like SEC filings),
    anything else must be supplied to read the file. ``image_only`` renders each page as a
    picture of its text, with no text layer, for the OCR path (Latin text only).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for text in pages:
        if image_only:
            _draw_image_page(c, text)
        else:
            _draw_text_page(c, text, cjk)
        c.showPage()
    c.save()
    if password is not None:
        _encrypt_aes(path, password)
    return path


def _encrypt_aes(path: Path, password: str) -> None:
    """Encrypt with AES-128 via pypdf (reportlab only writes RC4), as real filings are."""
    from pypdf import PdfWriter

    writer = PdfWriter(clone_from=path)
    writer.encrypt(user_password=password, owner_password="owner-secret", algorithm="AES-128")
    with open(path, "wb") as handle:
        writer.write(handle)


def make_broken_pdfs(directory: Path | str) -> dict[str, Path]:
    """Files named .pdf that no reader can open: ``empty``, ``random`` bytes, ``truncated``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    empty = directory / "empty.pdf"
    empty.write_bytes(b"")
    random_bytes = directory / "random.pdf"
    random_bytes.write_bytes(os.urandom(4096))
    whole = make_pdf(directory / "whole.pdf", ["A page that will be cut in half."] * 3)
    truncated = directory / "truncated.pdf"
    data = whole.read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    whole.unlink()
    return {"empty": empty, "random": random_bytes, "truncated": truncated}


# A statement page: its title lines, the years over the columns, then (heading, rows) blocks,
# each row a label and one cell per year, laid out as filings print them (label left, figures
# right-aligned in columns).
StatementBlock = tuple[str, list[tuple[str, ...]]]


def make_statement_pdf(path: Path | str, pages: list[tuple[list[str], list[str], list[StatementBlock]]]) -> Path:
    """Write a PDF of statement pages: each page is (title lines, column years, blocks)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    c = canvas.Canvas(str(path), pagesize=A4, invariant=1)
    for titles, years, blocks in pages:
        c.setFont("Helvetica", 11)
        y = A4[1] - 60
        for line in titles:
            c.drawString(56, y, line)
            y -= 16
        for i, year in enumerate(years):
            c.drawRightString(390 + 80 * i, y, year)
        y -= 18
        for heading, rows in blocks:
            if heading:
                c.drawString(56, y, heading)
                y -= 16
            for label, *values in rows:
                c.drawString(56, y, label)
                for i, value in enumerate(values):
                    c.drawRightString(390 + 80 * i, y, value)
                y -= 16
        c.showPage()
    c.save()
    return path
