"""Page images for the source viewer: a PDF page as PNG, a chunk's text highlighted.

``PageViewer`` is the one place that knows where a document's PDF, its chunk positions
and its rendered pages live. Plain page renders are cached on disk by (document, page,
width), the slow part; a highlight is drawn over the cached image per request (a few
translucent rectangles), so any chunk of a page costs one render.
"""

from __future__ import annotations

import io
import logging
import os
import threading
import uuid
from pathlib import Path
from typing import Any, Sequence

from errors import DocchatError
from rag.positions import ChunkPosition, locate_chunks
from settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_WIDTH = 1000
MAX_WIDTH = 2000
MIN_WIDTH = 100
HIGHLIGHT_RGB = (255, 214, 0)  # yellow, like a marker pen, blended over the text
HIGHLIGHT_ALPHA = 0.43
HIGHLIGHT_OUTLINE = (230, 150, 0)
CACHE_DIR_NAME = "page_cache"


def _is_document_id(value: str) -> bool:
    return value.isascii() and value.isalnum()


class PageNotFound(DocchatError, LookupError):
    """No such document file, or the page number is outside the document."""

    http_status = 404


def clamp_width(width: int | None) -> int:
    """The requested width inside [MIN_WIDTH, MAX_WIDTH]; None means DEFAULT_WIDTH."""
    if width is None:
        return DEFAULT_WIDTH
    return max(MIN_WIDTH, min(MAX_WIDTH, int(width)))


def render_png(pdf_path: Path, page: int, width: int) -> bytes:
    """Render 1-based ``page`` of the PDF ``width`` pixels wide, as PNG bytes."""
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(pdf_path))
    try:
        if not 1 <= page <= len(pdf):
            raise PageNotFound(f"page {page} is outside 1..{len(pdf)}")
        pdf_page = pdf[page - 1]
        try:
            page_width, _ = pdf_page.get_size()
            image = pdf_page.render(scale=width / page_width).to_pil().convert("RGB")
        finally:
            pdf_page.close()
    finally:
        pdf.close()
    return encode_png(image)


def encode_png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=1)  # fast: these are viewed, not archived
    return buffer.getvalue()


def draw_highlight(png: bytes, rects: Sequence[Sequence[float]]) -> bytes:
    """``png`` with translucent boxes over ``rects`` (normalised, origin top-left).

    Only the boxes' pixels are blended (not the whole page): decoding and encoding the
    PNG are then the whole cost.
    """
    from PIL import Image, ImageDraw

    image = Image.open(io.BytesIO(png)).convert("RGB")
    width, height = image.size
    pad = max(1, width // 400)
    draw = ImageDraw.Draw(image)
    for x0, y0, x1, y1 in rects:
        box = (max(0, int(x0 * width) - pad), max(0, int(y0 * height) - pad),
               min(width, int(x1 * width) + pad + 1), min(height, int(y1 * height) + pad + 1))
        if box[2] <= box[0] or box[3] <= box[1]:
            continue
        region = image.crop(box)
        image.paste(Image.blend(region, Image.new("RGB", region.size, HIGHLIGHT_RGB), HIGHLIGHT_ALPHA), box)
        draw.rectangle((box[0], box[1], box[2] - 1, box[3] - 1), outline=HIGHLIGHT_OUTLINE, width=1)
    return encode_png(image)


def page_count(pdf_path: Path) -> int:
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(pdf_path))
    try:
        return len(pdf)
    finally:
        pdf.close()


class PageViewer:
    """Page images and chunk positions of stored documents (access is checked by callers)."""

    def __init__(self, settings: Settings, knowledge_base: Any, positions: Any) -> None:
        self.settings = settings
        self.knowledge_base = knowledge_base
        self.positions = positions
        self.cache_dir = Path(settings.data_dir) / CACHE_DIR_NAME
        self._derive_lock = threading.Lock()

    def pdf_path(self, document_id: str) -> Path:
        """The stored original; PageNotFound when it is gone (deleted, or a failed upload)."""
        if not _is_document_id(document_id):  # sha256 hex: never let one walk the file system
            raise PageNotFound("unknown document")
        path = Path(self.settings.files_dir) / f"{document_id}.pdf"
        if not path.is_file():
            raise PageNotFound("unknown document")
        return path

    def page_count(self, document_id: str) -> int:
        return page_count(self.pdf_path(document_id))

    def page_png(self, document_id: str, page: int, width: int | None = None,
                 chunk_id: str | None = None, owner: str | None = None) -> bytes:
        """The page as PNG; with ``chunk_id`` (a chunk on this page) its text highlighted."""
        width = clamp_width(width)
        png = self._cached_render(document_id, page, width)
        if chunk_id:
            position = self.position(document_id, chunk_id, owner)
            if position is not None and position.page == page and position.rects:
                png = draw_highlight(png, position.rects)
        return png

    def _cached_render(self, document_id: str, page: int, width: int) -> bytes:
        path = self.cache_dir / document_id / f"{page}-{width}.png"
        try:
            return path.read_bytes()
        except OSError:
            pass
        png = render_png(self.pdf_path(document_id), page, width)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            tmp.write_bytes(png)
            os.replace(tmp, path)
        except OSError as exc:  # a full disk costs the cache, not the image
            logger.warning("cannot cache page render %s: %s", path.name, exc)
        return png

    # --- positions ----------------------------------------------------------------
    def position(self, document_id: str, chunk_id: str, owner: str | None = None) -> ChunkPosition | None:
        """The stored position of ``chunk_id``; derived now for documents indexed before positions."""
        if not chunk_id.startswith(f"{document_id}:"):
            return None
        position = self.positions.get(chunk_id)
        if position is None and not self.positions.has_document(document_id):
            self.derive(document_id, owner)
            position = self.positions.get(chunk_id)
        return position

    def derive(self, document_id: str, owner: str | None = None) -> int:
        """Locate every chunk of the document again from its PDF and the indexed chunk texts."""
        with self._derive_lock:
            if self.positions.has_document(document_id):
                return 0
            chunks = self.knowledge_base.document_chunks(document_id, owner)
            if not chunks:
                return 0
            found = locate_chunks(self.pdf_path(document_id), chunks)
            self.positions.save(document_id, found)
            logger.info("derived positions of %d/%d chunks of %s", len(found), len(chunks), document_id[:12])
            return len(found)

    def derive_missing(self) -> int:
        """Start-up: derive positions of ready documents indexed by a version without them."""
        done = 0
        try:
            ready = self.knowledge_base.registry.list_by_status("ready")
        except Exception as exc:  # e.g. the database closed before this thread ran
            logger.warning("cannot list documents to derive positions: %s", exc)
            return 0
        for doc in ready:
            try:
                if self.positions.has_document(doc.id):
                    continue
                self.derive(doc.id, doc.owner or None)
                done += 1
            except Exception as exc:  # keep going: the page route derives lazily as well
                logger.warning("cannot derive positions of %s: %s", doc.id[:12], exc)
        return done
