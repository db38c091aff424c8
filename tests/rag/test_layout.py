"""Paragraph ends in pdfium text: short lines keep their break, full CJK lines still join."""

from rag.layout import display_width, mark_paragraph_ends
from rag.text_cleaning import clean_page_text

FULL = "数字金融通过缓解融资约束促进了专精特新企业的高质量发展并且"  # 30 CJK = 60 cells


def test_display_width_counts_cjk_double():
    assert display_width("abc") == 3
    assert display_width("数字") == 4


def test_short_cjk_line_ends_a_paragraph_after_cleaning():
    page = "\n".join([FULL, FULL, "本文结论如下。", "3.2 变量设计", "3.2.1 被解释变量", FULL, "结束。"])
    cleaned = clean_page_text(mark_paragraph_ends(page))
    lines = cleaned.split("\n")
    assert lines[0] == FULL + FULL + "本文结论如下。"  # full lines are soft wraps
    assert lines[1:3] == ["3.2 变量设计", "3.2.1 被解释变量"]  # a heading never swallows the next line
    assert lines[3] == FULL + "结束。"


def test_without_marks_the_heading_would_join_its_paragraph():
    """The failure the marks prevent: pdfium text cleaned as is."""
    page = "\n".join(["3.2.1 被解释变量", FULL, FULL])
    assert clean_page_text(page).startswith("3.2.1 被解释变量数字")
    assert clean_page_text(mark_paragraph_ends(page)).startswith("3.2.1 被解释变量\n数字")


def test_english_and_short_pages_unchanged_after_cleaning():
    page = "Net income: $ 596 | $ 2,371\nTotal"
    assert clean_page_text(mark_paragraph_ends(page)) == clean_page_text(page)
