import pytest

from rag.splitter import embedding_text, split_pages
from rag.types import Page


@pytest.fixture(scope="module")
def tokenizer(embedder):
    return embedder.tokenizer


def test_short_pages_give_one_chunk_each_with_page_numbers_and_ids(tokenizer):
    pages = [Page(1, "First page text."), Page(2, ""), Page(3, "Third page text.")]
    chunks = split_pages(pages, "doc", "a.pdf", tokenizer, chunk_tokens=8, chunk_overlap=0)
    assert [(c.id, c.page, c.page_end, c.index, c.text) for c in chunks] == [
        ("doc:1:0", 1, 1, 0, "First page text."),
        ("doc:3:1", 3, 3, 1, "Third page text."),
    ]
    assert {c.filename for c in chunks} == {"a.pdf"}


def test_chunks_never_cross_a_page_break(tokenizer):
    pages = [Page(1, "one two"), Page(2, "three four")]
    chunks = split_pages(pages, "doc", "a.pdf", tokenizer, chunk_tokens=50, chunk_overlap=0)
    assert [(c.page, c.page_end, c.text) for c in chunks] == [(1, 1, "one two"), (2, 2, "three four")]


def test_chunks_respect_the_token_size(tokenizer):
    text = " ".join(f"word{i} is here." for i in range(300))
    chunks = split_pages([Page(1, text)], "doc", "a.pdf", tokenizer, chunk_tokens=40, chunk_overlap=5)
    assert len(chunks) > 5
    assert max(len(tokenizer.tokenize(c.text)) for c in chunks) <= 40
    # the context prefix is paid for from the same budget: what is embedded still fits
    assert max(len(tokenizer.tokenize(embedding_text(c))) for c in chunks) <= 40
    assert len({c.id for c in chunks}) == len(chunks)


def test_chinese_is_split_at_sentence_ends(tokenizer):
    sentence = "汉服是中国的传统服饰。"
    chunks = split_pages([Page(1, sentence * 30)], "doc", "a.pdf", tokenizer, chunk_tokens=30, chunk_overlap=0)
    assert len(chunks) > 1
    assert all(c.text.endswith("。") for c in chunks)


def test_later_chunks_start_on_later_pages(tokenizer):
    pages = [Page(n, f"Page {n} says " + "lorem ipsum dolor. " * 40) for n in range(1, 4)]
    chunks = split_pages(pages, "doc", "a.pdf", tokenizer, chunk_tokens=50, chunk_overlap=10)
    assert [c.page for c in chunks] == sorted(c.page for c in chunks)
    assert {c.page for c in chunks} == {1, 2, 3}
    assert all(c.id == f"doc:{c.page}:{c.index}" for c in chunks)


def test_no_text_gives_no_chunks(tokenizer):
    assert split_pages([Page(1, "  "), Page(2, "")], "doc", "a.pdf", tokenizer) == []


def test_embedding_text_prefixes_a_readable_document_title():
    from rag.splitter import document_title, embedding_text
    from rag.types import Chunk

    assert document_title("ADOBE_2022_10K.pdf") == "ADOBE 2022 10K"
    assert document_title("q-fin.zh.v2.PDF") == "q fin zh v2"
    chunk = Chunk("d:1:0", "d", "3M_2018_10K.pdf", 1, 1, 0, "Net sales grew.")
    assert embedding_text(chunk) == "3M 2018 10K: Net sales grew."


def test_every_chunk_carries_title_section_and_page_heading(tokenizer):
    pages = [Page(1, "Item 8. Financial Statements\nBALANCE SHEETS\nCash: 5 | 6\nDebt: 7 | 8"),
             Page(2, "INCOME STATEMENTS\nRevenue: 9 | 10")]
    chunks = split_pages(pages, "doc", "ACME_2022_10K.pdf", tokenizer, chunk_tokens=40, chunk_overlap=0)
    assert [c.context_prefix for c in chunks] == [
        "ACME 2022 10K | Item 8. Financial Statements | BALANCE SHEETS",
        "ACME 2022 10K | Item 8. Financial Statements | INCOME STATEMENTS",
    ]
    assert chunks[1].text == "INCOME STATEMENTS\nRevenue: 9 | 10"  # the text itself is the page's own
    assert embedding_text(chunks[1]) == f"{chunks[1].context_prefix}: {chunks[1].text}"


def test_each_chunk_keeps_the_statement_it_sits_under_else_its_section_path(tokenizer):
    pages = [Page(1, "Item 7. Management's Discussion\nRevenue grew because customers bought more tea."),
             Page(2, "ACME CORP.\nCONSOLIDATED BALANCE SHEETS\nCash: 5 | 6\nDebt: 7 | 8\n"
                     "CONSOLIDATED STATEMENTS OF CASH FLOWS\nCapital expenditures: 3 | 4\nDividends paid: 1 | 2")]
    chunks = split_pages(pages, "doc", "ACME_2022_10K.pdf", tokenizer, chunk_tokens=20, chunk_overlap=0)
    section_of = {line: c.section for c in chunks for line in c.text.split("\n")}
    assert section_of["Revenue grew because customers bought more tea."] == "Item 7. Management's Discussion"
    assert section_of["ACME CORP."] == section_of["Debt: 7 | 8"] == "Consolidated Balance Sheets"
    assert section_of["Capital expenditures: 3 | 4"] == "Consolidated Statements of Cash Flows"
