"""Table-aware pages and heading prefixes end to end: generated PDFs with real tables,
the real loader, splitter, embedder, Chroma and BM25 files."""

from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from rag.keyword_index import BM25Index
from rag.pdf_loader import load_pages
from rag.splitter import embedding_text
from rag.vector_store import SHARED_COLLECTION, ChromaStore

CASH_FLOW_ROWS = [
    ("Net income", "$ 4,756", "$ 4,822", "$ 5,260"),
    ("Depreciation, amortization and accretion", "856", "788", "757"),
    ("Stock-based compensation", "1,440", "1,069", "909"),
    ("Purchases of property and equipment", "(442)", "(348)", "(419)"),
    ("Repurchases of common stock", "(6,550)", "(3,950)", "(3,050)"),
]
BALANCE_ROWS = [
    ("Cash and cash equivalents", "$ 4,236", "$ 3,844"),
    ("Trade receivables, net", "2,065", "1,878"),
    ("Total current liabilities", "8,128", "7,614"),
]
PROSE = ("Our business. We make software for designers and photographers, sold by subscription "
         "through our website and through resellers in many countries.")


def _draw_table(c: canvas.Canvas, y: float, header: list[str], rows) -> float:
    """A statement as printers lay it out: label at the left margin, values in right-aligned columns."""
    columns = [330 + 80 * i for i in range(len(header))]
    for x, label in zip(columns, header):
        c.drawRightString(x + 60, y, label)
    y -= 18
    for label, *values in rows:
        c.drawString(56, y, label)
        for x, value in zip(columns, values):
            c.drawRightString(x + 60, y, value)
        y -= 16
    return y


@pytest.fixture
def statements_pdf(tmp_path: Path) -> Path:
    path = tmp_path / "pdfs" / "ACME_2022_10K.pdf"
    path.parent.mkdir(parents=True)
    c = canvas.Canvas(str(path), pagesize=A4)
    top = A4[1] - 60
    c.setFont("Helvetica", 11)
    c.drawString(56, top, "Item 1. Business")
    c.drawString(56, top - 20, PROSE)
    c.showPage()
    c.setFont("Helvetica", 11)
    c.drawString(56, top, "Item 8. Financial Statements and Supplementary Data")
    c.drawString(56, top - 20, "CONSOLIDATED STATEMENTS OF CASH FLOWS")
    _draw_table(c, top - 50, ["2022", "2021", "2020"], CASH_FLOW_ROWS)
    c.showPage()
    c.setFont("Helvetica", 11)
    c.drawString(56, top, "CONSOLIDATED BALANCE SHEETS")
    _draw_table(c, top - 30, ["2022", "2021"], BALANCE_ROWS)
    c.showPage()
    c.save()
    return path


def test_loader_writes_each_table_row_with_its_label_and_values(statements_pdf):
    pages = load_pages(statements_pdf)
    assert "Purchases of property and equipment: (442) | (348) | (419)" in pages[1].text.splitlines()
    assert "Net income: $ 4,756 | $ 4,822 | $ 5,260" in pages[1].text.splitlines()
    assert "Cash and cash equivalents: $ 4,236 | $ 3,844" in pages[2].text.splitlines()


def test_a_question_about_one_row_retrieves_its_page_and_the_row(make_kb, statements_pdf):
    kb = make_kb()
    assert kb.add_file(statements_pdf).status == "ready"
    [best, *_] = kb.search("How much did ACME spend on purchases of property and equipment in 2022?", k=3)
    assert best.page == 2
    assert "Purchases of property and equipment: (442) | (348) | (419)" in best.text
    [best, *_] = kb.search("What were ACME's cash and cash equivalents?", k=3)
    assert best.page == 3


def test_heading_prefixes_are_in_both_indexes_but_not_in_the_chunk_text(make_kb, statements_pdf):
    kb = make_kb()
    kb.add_file(statements_pdf)
    settings = kb.settings
    store = ChromaStore(settings.chroma_dir, kb.embedder.name, kb.embedder.dimension, SHARED_COLLECTION)
    balance = [chunk for chunk in store.iter_chunks() if chunk.page == 3]
    assert balance and all(c.context_prefix == "ACME 2022 10K | Item 8. Financial Statements and Supplementary "
                           "Data | CONSOLIDATED BALANCE SHEETS" for c in balance)
    assert all("Supplementary" not in c.text and "ACME" not in c.text for c in balance)
    # keyword index: words found only in the section heading of page 2 find page 3's chunks too
    bm25 = BM25Index(settings.bm25_dir / SHARED_COLLECTION)
    hits = {chunk_id.split(":")[1] for chunk_id, _ in bm25.query("supplementary data", 10)}
    assert hits == {"2", "3"}
    # dense index: page 3's vectors were made from prefix + text, not from the text alone
    chunk = balance[0]
    prefixed, plain = kb.embedder.embed_documents([embedding_text(chunk), chunk.text])
    [(found, similarity)] = store.query(prefixed, 1)
    assert found.id == chunk.id and similarity > 0.999
    assert store.query(plain, 1)[0][1] < 0.99
