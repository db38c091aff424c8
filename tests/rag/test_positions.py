"""Chunk positions and highlighted page renders on PDFs generated with known text at known places.

tests/pdfs.py draws the first line of a page at x = 56 pt, baseline 56 pt below the top
of an A4 page (595 x 842 pt), 15 pt per line, Helvetica 11 pt: so the words of line n
sit at a known height, and the tests check pixel colours there.
"""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image

from rag.page_render import PageViewer, draw_highlight, render_png
from rag.positions import align, locate, locate_chunks, page_words, tokenize
from rag.types import Chunk
from settings import Settings
from storage.db import Database
from storage.positions import PositionStore
from tests.pdfs import A4, LINE_HEIGHT, MARGIN, make_pdf

FIRST = "Alpha harbour lighthouse keepers record the tides every morning before sunrise."
SECOND = "Zebra crossings near the market square were repainted in bright white last spring."
WIDTH = 1000


def is_yellow(pixel) -> bool:
    r, g, b = pixel[:3]
    return r > 200 and g > 170 and b < 160


def yellow_share(image: Image.Image, box: tuple[int, int, int, int]) -> float:
    """Share of the background pixels inside ``box`` that are highlight yellow."""
    pixels = [image.getpixel((x, y)) for x in range(box[0], box[2]) for y in range(box[1], box[3])]
    light = [p for p in pixels if sum(p[:3]) > 550]  # background, not glyph strokes
    return sum(is_yellow(p) for p in light) / max(1, len(light))


def line_box(line: int, width: int = WIDTH, x_pt: tuple[float, float] = (60, 200)) -> tuple[int, int, int, int]:
    """Pixel box over the middle of text line ``line`` (0-based) between ``x_pt`` points."""
    scale = width / A4[0]
    baseline = MARGIN + line * LINE_HEIGHT  # points from the top
    return (int(x_pt[0] * scale), int((baseline - 6) * scale), int(x_pt[1] * scale), int((baseline - 1) * scale))


@pytest.fixture
def two_paragraphs(tmp_path: Path) -> Path:
    # Line 0: FIRST, line 1: empty, line 2: SECOND.
    return make_pdf(tmp_path / "harbour.pdf", [f"{FIRST}\n\n{SECOND}"])


def chunk(text: str, page: int = 1, index: int = 0, doc: str = "doc") -> Chunk:
    return Chunk(f"{doc}:{page}:{index}", doc, "harbour.pdf", page, page, index, text)


def test_tokenize_splits_latin_words_and_cjk_characters():
    assert [t for t, _, _ in tokenize("Hello, World 42! 汉服。")] == ["hello", "world", "42", "汉", "服"]


def test_align_ignores_whitespace_case_and_a_context_prefix(two_paragraphs: Path):
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(two_paragraphs))
    words = page_words(pdf, 1)
    pdf.close()
    reformatted = "Harbour notes > Tides:  zebra CROSSINGS near the\nmarket square were repainted"
    matched = align(reformatted, words)
    assert [words.tokens[i] for i in matched] == ["zebra", "crossings", "near", "the", "market", "square",
                                                   "were", "repainted"]


def test_highlight_covers_the_chunk_text_and_nothing_else(two_paragraphs: Path):
    positions = locate_chunks(two_paragraphs, [chunk(SECOND, index=1)])
    assert len(positions) == 1 and positions[0].rects
    plain = render_png(two_paragraphs, 1, WIDTH)
    lit = Image.open(io.BytesIO(draw_highlight(plain, positions[0].rects))).convert("RGB")
    plain_image = Image.open(io.BytesIO(plain)).convert("RGB")
    assert lit.size[0] == WIDTH
    assert yellow_share(lit, line_box(2)) > 0.8, "the chunk's words are highlighted"
    assert yellow_share(lit, line_box(0)) == 0.0, "the other paragraph is not"
    assert yellow_share(plain_image, line_box(2)) == 0.0, "the plain render has no highlight"


def test_chinese_pages_render_and_get_positions(tmp_path: Path):
    text = "汉服是汉民族的传统服饰，历史悠久。穿汉服的第一步是穿好中衣。"
    pdf = make_pdf(tmp_path / "汉服.pdf", [text], cjk=True)
    image = Image.open(io.BytesIO(render_png(pdf, 1, 600))).convert("L")
    assert image.size[0] == 600
    assert image.getextrema()[0] < 100, "the Chinese glyphs are drawn"
    [position] = locate_chunks(pdf, [chunk("穿汉服的第一步是穿好中衣")])
    assert position.char_end - position.char_start >= 10
    x0, y0, x1, y1 = position.rects[0]
    assert 0 < x0 < x1 < 1 and 0 < y0 < y1 < 0.15  # on the first line, near the top


def test_ocr_page_gets_word_boxes(tmp_path: Path):
    pdf = make_pdf(tmp_path / "scan.pdf", ["Tidal energy converters need maintenance every spring."],
                   image_only=True)
    [position] = locate_chunks(pdf, [chunk("tidal energy converters need maintenance")])
    assert position.source == "ocr"
    assert position.rects, "Tesseract's word boxes give rectangles"
    x0, y0, x1, y1 = position.rects[0]
    # tests/pdfs.py draws scanned text from (100, 100) px at 150 dpi on A4 (1240 x 1754 px).
    assert 0.05 < x0 < 0.15 and 0.04 < y0 < 0.09 and x1 > 0.4


def test_unknown_page_is_not_found(two_paragraphs: Path):
    from rag.page_render import PageNotFound

    with pytest.raises(PageNotFound):
        render_png(two_paragraphs, 2, WIDTH)


def test_chunk_not_on_the_page_has_no_position(two_paragraphs: Path):
    import pypdfium2

    pdf = pypdfium2.PdfDocument(str(two_paragraphs))
    words = page_words(pdf, 1)
    pdf.close()
    assert locate(chunk("completely unrelated vocabulary about volcanoes"), words) is None


def test_knowledge_base_stores_positions_and_the_viewer_highlights(make_kb, tmp_path: Path, two_paragraphs: Path):
    kb = make_kb()
    kb.positions = PositionStore(kb.registry.db)
    result = kb.add_file(two_paragraphs, "harbour.pdf")
    assert result.status == "ready"
    chunks = kb.document_chunks(result.id)
    assert all(kb.positions.get(c.id) is not None for c in chunks)
    viewer = PageViewer(kb.settings, kb, kb.positions)
    png = viewer.page_png(result.id, 1, WIDTH, chunks[0].id)
    assert yellow_share(Image.open(io.BytesIO(png)).convert("RGB"), line_box(0)) > 0.8
    assert (kb.settings.data_dir / "page_cache" / result.id / f"1-{WIDTH}.png").is_file()
    kb.delete(result.id)
    assert kb.positions.get(chunks[0].id) is None
    assert not (kb.settings.data_dir / "page_cache" / result.id).exists()


def test_positions_of_an_older_data_dir_are_derived(make_kb, two_paragraphs: Path):
    kb = make_kb()  # no position store: like a data dir indexed by the previous version
    result = kb.add_file(two_paragraphs, "harbour.pdf")
    store = PositionStore(kb.registry.db)
    assert not store.has_document(result.id)
    viewer = PageViewer(kb.settings, kb, store)
    assert viewer.derive_missing() == 1
    assert all(store.get(c.id) is not None for c in kb.document_chunks(result.id))


def test_migration_creates_the_positions_table(tmp_path: Path):
    with Database(Settings(data_dir=tmp_path).db_path) as db:
        assert PositionStore(db).get("nope:1:0") is None
