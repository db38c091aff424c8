"""Entity routing end to end: two look-alike filings whose statement pages never name the company."""

from pathlib import Path

import pytest
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

from rag.retriever import HybridRetriever
from rag.vector_store import SHARED_COLLECTION, ChromaStore


def _filing(path: Path, company: str, capex: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    c = canvas.Canvas(str(path), pagesize=A4)
    top = A4[1] - 60
    c.setFont("Helvetica", 11)
    c.drawString(56, top, f"{company} Corporation annual report for fiscal year 2022.")
    c.drawString(56, top - 20, f"{company} sells industrial adhesives and coatings worldwide.")
    c.showPage()
    c.setFont("Helvetica", 11)
    c.drawString(56, top, "CONSOLIDATED STATEMENTS OF CASH FLOWS")
    for i, (label, value) in enumerate((("Net income", "1,200 1,100"), ("Purchases of property and equipment",
                                                                         f"({capex}) (300)"))):
        c.drawString(56, top - 30 - 16 * i, f"{label} {value}")
    c.showPage()
    c.save()
    return path


@pytest.fixture
def retrievers(make_kb, tmp_path):
    kb = make_kb()
    for name, company, capex in (("report_a.pdf", "Acme", "410"), ("report_b.pdf", "Globex", "520")):
        assert kb.add_file(_filing(tmp_path / name, company, capex)).status == "ready"
    store = ChromaStore(kb.settings.chroma_dir, kb.embedder.name, kb.embedder.dimension, SHARED_COLLECTION)
    keywords = kb.keywords.scoped("")
    return {routing: HybridRetriever(store, keywords, kb.embedder, routing=routing) for routing in (True, False)}


def test_a_question_naming_the_company_reaches_its_statement_page(retrievers):
    question = "What were Globex's purchases of property and equipment in FY2022?"
    found = retrievers[True].search(question, k=3)
    pages = [(s.filename, s.page) for s in found]
    assert ("report_b.pdf", 2) in pages
    if ("report_a.pdf", 2) in pages:  # the look-alike statement may follow, never lead
        assert pages.index(("report_b.pdf", 2)) < pages.index(("report_a.pdf", 2))
    assert "(520)" in found[pages.index(("report_b.pdf", 2))].text
    [named] = retrievers[True].routed_documents([question])
    assert named == found[0].document_id and found[0].filename == "report_b.pdf"


def test_routing_only_adds_candidates(retrievers):
    question = "What were Globex's purchases of property and equipment in FY2022?"
    with_routing = {(s.filename, s.page) for s in retrievers[True].search(question, k=4)}
    assert ("report_a.pdf", 2) in with_routing  # the other company's statement is still there
    assert retrievers[True].routed_documents(["What were the purchases of property and equipment?"]) == []
