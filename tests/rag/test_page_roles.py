"""Pages know their role: statement titles recognised, sections stored, weighed and filtered."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.page_roles import (
    BALANCE,
    CASH_FLOW,
    COMPREHENSIVE,
    EQUITY,
    INCOME,
    canonical_statement,
    first_statement_pages,
    matches_section,
    names_section,
    page_statements,
    statement_kind,
    statement_titles,
    statements_for,
    title_kind,
)
from rag.pdf_loader import read_pages
from rag.text_cleaning import clean_pages
from tests.pdfs import make_pdf

INCOME_PAGE = (
    "ADOBE INC.\nCONSOLIDATED STATEMENTS OF INCOME\n(In millions, except per share data)\n"
    "Years Ended December 2, 2022 December 3, 2021\nRevenue 17,606 15,785\nCost of revenue 2,165 1,865\n"
    "Gross profit 15,441 13,920\nNet income 4,756 4,822"
)
CASH_FLOW_PAGE = (
    "ADOBE INC.\nCONSOLIDATED STATEMENTS OF CASH FLOWS\n(In millions)\n"
    "Net cash provided by operating activities 7,838 7,230\nPurchases of property and equipment (442) (348)\n"
    "Net cash used for investing activities (1,177) (2,129)"
)
INDEX_PAGE = (
    "ITEM 8. FINANCIAL STATEMENTS AND SUPPLEMENTARY DATA\nINDEX TO CONSOLIDATED FINANCIAL STATEMENTS\n"
    "Consolidated Balance Sheets\nConsolidated Statements of Income\nConsolidated Statements of Cash Flows\n"
    "Notes to Consolidated Financial Statements"
)
NOTE_PAGE = (
    "NOTE 7. LEASES\nOperating lease liabilities are recorded in other liabilities on the\n"
    "Consolidated Balance Sheets\nand lease expense in operating expenses.\n"
    "Supplemental Balance Sheet Information\nRight-of-use assets 1,000 900"
)
ZH_PAGE = "合并资产负债表\n2022年12月31日\n货币资金 1,234,567 1,100,000\n应收账款 345,678 300,000\n资产总计 9,876,543 9,000,000"


@pytest.fixture
def filing_pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "pdfs" / "ADOBE_2022_10K.pdf", [INDEX_PAGE, INCOME_PAGE, CASH_FLOW_PAGE, NOTE_PAGE])


@pytest.fixture
def zh_pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "pdfs" / "年报.pdf", ["公司简介\n本公司主要从事软件业务。", ZH_PAGE], cjk=True)


def _pages(pdf: Path) -> list[str]:
    return clean_pages([page.text for page in read_pages(pdf, use_ocr=False)])


# --- titles -------------------------------------------------------------------------------------


@pytest.mark.parametrize("line, kind", [
    ("CONSOLIDATED STATEMENTS OF OPERATIONS", INCOME),
    ("Consolidated Statement of Earnings (Unaudited)", INCOME),
    ("Condensed Consolidated Balance Sheets", BALANCE),
    ("Consolidated Statements of Financial Position", BALANCE),
    ("CONSOLIDATED STATEMENTS OF CASH FLOWS (continued)", CASH_FLOW),
    ("Consolidated Statements of Changes in Shareholders’ Equity", EQUITY),
    ("3M Company and Subsidiaries Consolidated Balance Sheet", BALANCE),
    ("Consolidated Balance Sheets GENERAL MILLS, INC. AND SUBSIDIARIES", BALANCE),
    ("INCOME STATEMENTS", INCOME),
    ("Consolidated Statement of Comprehensive Incom e", COMPREHENSIVE),  # a word split by text extraction
    ("合并利润表", INCOME),
    ("合 并 现 金 流 量 表", CASH_FLOW),
    ("母公司资产负债表", BALANCE),
])
def test_a_line_that_is_a_statement_title_names_its_statement(line, kind):
    assert title_kind(line)[0] == kind


@pytest.mark.parametrize("line", [
    "consolidated balance sheets.",  # the end of a sentence
    "Balance Sheet:",  # a label above a list
    "Impact of derivatives on the Consolidated balance sheets",  # a table's caption
    "Supplemental Balance Sheet Information",  # a note
    "Consolidated Balance Sheets 53",  # an index entry with its page
    "CONSOLIDATED BALANCE SHEETS AND CASH FLOWS ANALYSIS",  # an MD&A heading
])
def test_a_line_that_merely_mentions_a_statement_is_no_title(line):
    assert title_kind(line) is None


def test_a_page_listing_the_statements_is_an_index_not_a_statement():
    assert statement_titles(INDEX_PAGE) == []


def test_a_title_continuing_a_sentence_or_a_bare_one_under_a_note_does_not_count():
    assert statement_titles(NOTE_PAGE) == []


def test_a_bare_title_heads_a_statement_only_over_figures():
    policy = "BALANCE SHEET\nCash and Cash Equivalents\nCash includes amounts due from banks and deposits.\nGoodwill"
    table = "BALANCE SHEETS\n(In millions)\nCash 1,200 1,100\nInventories 800 750\nTotal assets 9,000 8,500"
    assert statement_titles(policy) == []
    assert [t.kind for t in statement_titles(table)] == [BALANCE]


def test_a_statement_running_onto_an_untitled_page_of_figures_keeps_its_title():
    rows = "\n".join(f"Line item {i} 1,{i:03d} 2,{i:03d}" for i in range(12))
    pages = page_statements([CASH_FLOW_PAGE, rows, "NOTE 1. BASIS OF PRESENTATION\nText of the note."])
    assert [[t.kind for t in p] for p in pages] == [[CASH_FLOW], [CASH_FLOW], []]


# --- real PDFs ------------------------------------------------------------------------------------


def test_statement_pages_of_a_real_pdf_are_recognised_and_its_index_and_notes_are_not(filing_pdf):
    found = page_statements(_pages(filing_pdf))
    assert [[(t.kind, t.title) for t in p] for p in found] == [
        [], [(INCOME, "Consolidated Statements of Income")], [(CASH_FLOW, "Consolidated Statements of Cash Flows")], []]


def test_a_chinese_statement_page_of_a_real_pdf_is_recognised(zh_pdf):
    found = page_statements(_pages(zh_pdf))
    assert [[t.kind for t in p] for p in found] == [[], [BALANCE]]


# --- questions and filters ------------------------------------------------------------------------


def test_statements_a_question_names_in_its_own_words():
    assert statements_for("What is Adobe's cash flow from operations in FY2022?") == [CASH_FLOW]
    assert statements_for("Using the balance sheet and the income statement, compute ROA.") == [INCOME, BALANCE]
    assert statements_for("根据合并资产负债表，流动比率是多少？") == [BALANCE]
    assert statements_for("What was the revenue growth?") == []


def test_api_names_map_to_the_canonical_statements():
    assert [canonical_statement(n) for n in ("cash_flow", "balance_sheet", "income_statement", "equity", "P&L")] == [
        CASH_FLOW, BALANCE, INCOME, EQUITY, INCOME]
    assert canonical_statement("risk factors") is None


def test_a_statement_filter_matches_the_statement_and_not_a_note_about_it():
    assert matches_section("Consolidated Balance Sheets", "balance_sheet")
    assert not matches_section("Note 7 › Supplemental Balance Sheet Information", "balance sheet")
    assert matches_section("PART I › Item 1A. Risk Factors", "risk factors")
    assert not matches_section(None, "risk factors")
    assert statement_kind("Consolidated Statements of Operations") == INCOME


def test_a_question_names_a_section_by_all_its_words():
    assert names_section("What are the main risk factors?", "PART I › Item 1A. Risk Factors")
    assert names_section("Which methodology did the survey use?", "3 Methodology")
    assert not names_section("What are the main risks?", "Item 1A. Risk Factors")
    assert not names_section("What is in the financial statements?", "Item 8. Financial Statements")


# --- stored with the chunks -------------------------------------------------------------------------


def test_search_results_carry_the_section_and_a_filter_keeps_only_that_statement(make_kb, filing_pdf):
    kb = make_kb()
    assert kb.add_file(filing_pdf).status == "ready"
    results = kb.search("purchases of property and equipment", k=4)
    by_page = {s.page: s.section for s in results}
    assert by_page[3] == "Consolidated Statements of Cash Flows"
    only = kb.search("revenue net income", k=4, section="income_statement")
    assert [(s.page, s.section) for s in only] == [(2, "Consolidated Statements of Income")]
    assert kb.search("revenue", k=4, section="equity") == []


def test_an_index_built_before_sections_still_answers_with_no_section(make_kb, tmp_path, filing_pdf):
    kb = make_kb()
    kb.add_file(filing_pdf)
    store = kb._scope("").store
    old = store._collection.get(include=["embeddings", "documents", "metadatas"])
    store._collection.delete(ids=old["ids"])
    store.add_raw(old["ids"], old["embeddings"], old["documents"],
                  [{k: v for k, v in m.items() if k != "section"} for m in old["metadatas"]])
    with kb.registry.db.transaction() as conn:  # the keyword table as it was before m005
        conn.execute("ALTER TABLE keyword_chunks DROP COLUMN section")
        conn.execute("DELETE FROM _migrations WHERE name = 'm005_chunk_sections'")
    kb.close()

    reopened = make_kb()  # m005 runs again: every old row gets section ''
    results = reopened.search("purchases of property and equipment", k=2)
    assert results and all(s.section is None for s in results)
    assert reopened.search("purchases", k=2, section="cash flow") == []
    assert reopened.search("purchases", k=2, statements=["cash flow statement"])  # weighing ignores them


def test_fill_sections_gives_an_old_index_its_sections_without_re_embedding(make_kb, filing_pdf):
    kb = make_kb()
    kb.add_file(filing_pdf)
    store = kb._scope("").store
    old = store._collection.get(include=["embeddings", "documents", "metadatas"])
    store.set_sections({chunk_id: "" for chunk_id in old["ids"]})
    kb.keywords.set_sections({chunk_id: "" for chunk_id in old["ids"]})
    assert kb.search("purchases", k=2, section="cash flow") == []

    assert kb.fill_sections() == 1
    assert [s.page for s in kb.search("purchases", k=2, section="cash flow")] == [3]
    after = store._collection.get(ids=old["ids"], include=["embeddings"])
    assert (after["embeddings"] == old["embeddings"]).all()
    assert kb.fill_sections() == 0  # done once


def test_a_statements_first_run_of_pages_is_the_companys_own():
    # MGM Resorts' 2018 10-K: Item 8, then a guarantor's condensed consolidating statements,
    # then an exhibit's; a balance sheet over two pages stays one run
    pages = [(57, BALANCE), (58, INCOME), (60, CASH_FLOW), (95, BALANCE), (96, INCOME), (174, BALANCE),
             (61, CASH_FLOW), (175, INCOME), (58, INCOME)]
    assert first_statement_pages(pages) == {BALANCE: [57], INCOME: [58], CASH_FLOW: [60, 61]}
    assert first_statement_pages([]) == {}
