"""OCR for pages without a text layer (scans): render with pypdfium2, read with Tesseract.

Tesseract is a system program (Debian ``tesseract-ocr``); when it is missing, callers
ask ``ocr_available()`` first and tell the user how to install it.
"""

from __future__ import annotations

import logging
from pathlib import Path

logger = logging.getLogger(__name__)

RENDER_DPI = 300
PAGE_TIMEOUT_S = 120
MAX_RENDER_PIXELS = 25_000_000  # an A4 page at 300 dpi is 8.7 M pixels
INSTALL_HINT = "no text layer; install tesseract-ocr to read scanned PDFs"


def render_scale(width_pt: float, height_pt: float, max_pixels: int = MAX_RENDER_PIXELS) -> float:
    """RENDER_DPI, lowered so the render stays under ``max_pixels``.

    Why: a page can claim any size (PDF allows 200 x 200 inches); rendered at 300 dpi
    that is billions of pixels and the memory of the whole server.
    """
    scale = RENDER_DPI / 72
    area = max(width_pt, 1.0) * max(height_pt, 1.0) * scale * scale
    if area > max_pixels:
        scale *= (max_pixels / area) ** 0.5
    return scale


def ocr_available() -> bool:
    """True when the tesseract binary runs (checked each time: it is a cheap subprocess)."""
    try:
        import pytesseract

        pytesseract.get_tesseract_version()
        return True
    except Exception as exc:  # not installed, not on PATH, or broken
        logger.debug("tesseract unavailable: %s", exc)
        return False


def ocr_languages() -> str:
    """'chi_sim+eng' when the Chinese model is installed, else whatever English we have."""
    import pytesseract

    try:
        installed = set(pytesseract.get_languages(config=""))
    except Exception:
        installed = {"eng"}
    wanted = [lang for lang in ("chi_sim", "eng") if lang in installed]
    return "+".join(wanted) or "eng"


def ocr_pages(path: Path, page_numbers: list[int], progress=None) -> dict[int, str]:
    """Text of the given 1-based pages of ``path``, read by Tesseract; a failing page gives ''."""
    import pypdfium2
    import pytesseract

    languages = ocr_languages()
    texts: dict[int, str] = {}
    pdf = pypdfium2.PdfDocument(str(path))
    try:
        for done, number in enumerate(page_numbers, start=1):
            try:
                page = pdf[number - 1]
                image = page.render(scale=render_scale(*page.get_size())).to_pil()
                texts[number] = pytesseract.image_to_string(image, lang=languages, timeout=PAGE_TIMEOUT_S)
            except Exception as exc:  # one bad page must not lose the document
                logger.warning("OCR failed on page %d of %s: %s", number, path.name, exc)
                texts[number] = ""
            if progress:
                progress("OCR", done, len(page_numbers))
    finally:
        pdf.close()
    return texts
