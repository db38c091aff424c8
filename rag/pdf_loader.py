"""Read a PDF into pages of text: decrypt, extract, OCR the pages that have no text layer.

Bad files become our own exceptions with a message a user can act on; a single page
that fails to extract is logged and left empty instead of losing the whole document.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

from rag import ocr
from rag.layout import pdfium_page_texts
from rag.types import NoTextLayer, Page, PasswordProtectedPDF, ProgressCallback, UnreadablePDF

logger = logging.getLogger(__name__)

# A page with fewer visible characters than this is treated as a scan (no text layer).
MIN_TEXT_CHARS = 20


def _open(path: Path, name: str):
    from pypdf import PdfReader
    from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

    if path.stat().st_size == 0:
        raise UnreadablePDF(f"{name}: the file is empty")
    with open(path, "rb") as handle:
        head = handle.read(1024)
    if b"%PDF-" not in head:
        raise UnreadablePDF(f"{name}: not a PDF file")
    try:
        reader = PdfReader(path)
        if reader.is_encrypted and not reader.decrypt(""):
            raise PasswordProtectedPDF(f"{name}: the PDF is protected by a password; upload an unprotected copy")
        n_pages = len(reader.pages)
    except (PasswordProtectedPDF, UnreadablePDF):
        raise
    except FileNotDecryptedError as exc:
        raise PasswordProtectedPDF(f"{name}: the PDF is protected by a password; upload an unprotected copy") from exc
    except DependencyError as exc:
        raise UnreadablePDF(f"{name}: encrypted with a method this install cannot read ({exc}); install pypdf[crypto]") from exc
    except NotImplementedError as exc:  # e.g. an encryption filter pypdf does not know
        raise UnreadablePDF(f"{name}: uses a PDF feature docchat cannot read ({exc})") from exc
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise UnreadablePDF(f"{name}: broken or truncated PDF ({exc})") from exc
    if n_pages == 0:
        raise UnreadablePDF(f"{name}: the PDF has no pages")
    return reader


def _extract(reader, index: int, filename: str) -> str:
    try:
        return reader.pages[index].extract_text() or ""
    except Exception as exc:  # pypdf raises many kinds on odd pages; one page must not kill the file
        logger.warning("could not extract page %d of %s: %s", index + 1, filename, exc)
        return ""


def _page_texts(path: Path, reader, total: int, name: str, progress: ProgressCallback | None) -> list[str]:
    """pdfium's row-ordered text (rag/layout.py), pypdf for pages pdfium leaves empty or cannot read."""
    fast = pdfium_page_texts(path)
    if fast is not None and len(fast) != total:
        logger.info("%s: pdfium sees %d pages, pypdf %d; using pypdf", name, len(fast), total)
        fast = None
    texts: list[str] = []
    for index in range(total):
        text = fast[index] if fast is not None else ""
        if len(text.strip()) < MIN_TEXT_CHARS:
            text = max(text, _extract(reader, index, name), key=lambda t: len(t.strip()))
        texts.append(text)
        if progress:
            progress("reading pages", index + 1, total)
    return texts


class IsolatedReader(Protocol):
    """Reads a PDF in a killable child process: ``rag.pdf_worker.ParseWorkers`` (which runs
    ``read_pages`` there; this module never imports it, so the split has one direction)."""

    def read(self, path: Path | str, timeout_s: float, progress: ProgressCallback | None = None,
             use_ocr: bool = True, name: str | None = None) -> list[Page]: ...


def load_pages(path: Path | str, progress: ProgressCallback | None = None, use_ocr: bool = True,
               name: str | None = None, timeout_s: float | None = None,
               workers: IsolatedReader | None = None) -> list[Page]:
    """All pages of ``path`` (1-based numbers, raw text; cleaning is the caller's job).

    With ``timeout_s`` the parsing runs in one of ``workers``' child processes, killed
    past the limit (rag/pdf_worker.py): a PDF that hangs the parser fails alone, with
    ``PDFTooSlow`` ("took too long to read"). Without it, ``read_pages`` in this process.
    """
    if timeout_s is None:
        return read_pages(path, progress, use_ocr, name)
    if workers is None:
        raise ValueError("load_pages: timeout_s needs workers (a rag.pdf_worker.ParseWorkers)")
    return workers.read(path, timeout_s, progress, use_ocr, name)


def read_pages(path: Path | str, progress: ProgressCallback | None = None, use_ocr: bool = True,
               name: str | None = None) -> list[Page]:
    """``load_pages`` in this process.

    Pages without a text layer are OCRed when Tesseract is installed. Raises
    UnreadablePDF / PasswordProtectedPDF for bad files and NoTextLayer when no page has
    text and OCR is not available. ``name`` is the file name the user knows, used in
    messages (the stored copy is named by its hash, which would mean nothing to them).
    """
    path = Path(path)
    name = name or path.name
    reader = _open(path, name)
    total = len(reader.pages)
    texts = _page_texts(path, reader, total, name, progress)
    scanned = [i + 1 for i, text in enumerate(texts) if len(text.strip()) < MIN_TEXT_CHARS]
    if scanned and use_ocr and ocr.ocr_available():
        logger.info("%s: OCR of %d page(s) without a text layer", name, len(scanned))
        try:
            recognised = ocr.ocr_pages(path, scanned, progress)
        except Exception as exc:  # pdfium cannot render a file pypdf could open: a damaged PDF
            logger.warning("%s: pages could not be rendered for OCR (%s)", name, exc)
            recognised = {}
        for number, text in recognised.items():
            if len(text.strip()) > len(texts[number - 1].strip()):
                texts[number - 1] = text
    if not any(text.strip() for text in texts):
        if scanned and not (use_ocr and ocr.ocr_available()):
            raise NoTextLayer(f"{name}: {ocr.INSTALL_HINT}")
        raise UnreadablePDF(f"{name}: no text found in the PDF")
    if scanned and not (use_ocr and ocr.ocr_available()):
        logger.warning("%s: %d page(s) without text were skipped (%s)", name, len(scanned), ocr.INSTALL_HINT)
    return [Page(number=i + 1, text=text) for i, text in enumerate(texts)]
