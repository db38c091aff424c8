from rag.headings import PageContext, context_prefix, is_section_heading, page_contexts, page_heading


def test_upper_case_page_heading_is_found_below_a_company_line():
    page = "ADOBE INC.\nCONSOLIDATED STATEMENTS OF CASH FLOWS\n(In millions)\nNet income: 4,756 | 4,822"
    assert page_heading(page) == "CONSOLIDATED STATEMENTS OF CASH FLOWS"


def test_page_furniture_and_sentences_are_not_headings():
    assert page_heading("Page 9 of 15\nincludes gains or losses on sales of an entire operating resort.") == ""
    assert page_heading("Table of Contents\n12\n") == ""
    # a line that introduces a list is a sentence, not the page's heading
    assert page_heading("Notable comparable sales changes by revenue category were as follows:\n"
                        "• Computing: the 6.4% decline was driven by tablets.") == ""
    assert page_heading("下表列出各项指标：\n收入增长了百分之十二。") == ""


def test_section_headings_of_reports_papers_and_chinese_documents():
    for line in ("Item 8. Financial Statements and Supplementary Data", "PART II", "3.2 Experimental Setup",
                 "1 引言", "第二章 数据来源"):
        assert is_section_heading(line), line
    for line in ("Item 7. Management's Discussion and Analysis 32", "2015 2016 2017", "Net income: 5 | 6"):
        assert not is_section_heading(line), line


def test_a_section_carries_on_until_the_next_and_tables_of_contents_are_ignored():
    toc = "Contents\nItem 1. Business\nItem 1A. Risk Factors\nItem 7. MD&A\nItem 8. Financial Statements"
    pages = [toc, "Item 1. Business\nWe sell tea.", "More about tea.", "Item 8. Financial Statements\nBALANCE SHEET"]
    assert [c.section for c in page_contexts(pages)] == ["", "Item 1. Business", "Item 1. Business",
                                                        "Item 8. Financial Statements"]


def test_prefix_skips_empty_and_repeated_parts():
    assert context_prefix("ACME 2022 10K", PageContext("Item 8. Financial Statements", "BALANCE SHEET")) == \
        "ACME 2022 10K | Item 8. Financial Statements | BALANCE SHEET"
    assert context_prefix("Paper", PageContext("1 Intro", "1 Intro")) == "Paper | 1 Intro"
    assert context_prefix("Paper", PageContext("", "")) == "Paper"


def test_each_page_keeps_the_path_of_open_headings_above_it():
    pages = ["PART II\nItem 7. Management's Discussion\nText.", "More text.", "Item 8. Financial Statements\nTables.",
             "3 Method\nWe sampled.", "3.2 Sampling\nDetails.", "4 Results\nFindings."]
    assert [c.path for c in page_contexts(pages)] == [
        ("PART II",), ("PART II", "Item 7. Management's Discussion"), ("PART II", "Item 8. Financial Statements"),
        ("PART II", "3 Method"), ("PART II", "3 Method", "3.2 Sampling"), ("PART II", "4 Results")]
