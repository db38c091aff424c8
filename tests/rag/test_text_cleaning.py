from rag.text_cleaning import clean_page_text, clean_pages, drop_repeated_lines, normalize_unicode


def test_hyphenated_line_break_is_joined():
    assert clean_page_text("an inter-\nnational company") == "an international company"


def test_hyphen_before_capital_is_kept():
    assert clean_page_text("Coca-\nCola") == "Coca-\nCola"


def test_chinese_soft_wrap_is_joined_but_a_spaced_line_end_is_kept():
    assert clean_page_text("数字金融对企\n业的影响 \n下一段") == "数字金融对企业的影响\n下一段"


def test_spaced_out_cjk_run_is_collapsed():
    assert clean_page_text("数 字 金 融 发展") == "数字金融 发展"


def test_two_cjk_words_separated_by_a_space_stay_apart():
    assert clean_page_text("指标类型 指标名称") == "指标类型 指标名称"


def test_space_before_chinese_punctuation_is_removed():
    assert clean_page_text("问题 。 答案 ，好") == "问题。 答案，好"


def test_ligatures_math_italics_and_full_width_are_normalized():
    assert normalize_unicode("eﬃcient 𝐷𝐼𝐷𝐹 ２０２１ ＡＢ") == "efficient DIDF 2021 AB"


def test_chinese_punctuation_is_kept_full_width():
    assert normalize_unicode("你好，世界！对吗？是；好：（甲）") == "你好，世界！对吗？是；好：（甲）"


def test_whitespace_is_tidied():
    assert clean_page_text("  a   b \t c  \n\n\n\nd  ") == "a b c\n\nd"


def test_header_on_most_pages_is_dropped_even_with_page_numbers():
    bodies = ["Revenue rose\nin spring", "Costs fell\nin summer", "Profit doubled\nin autumn", "Cash grew\nin winter"]
    pages = [f"ACME Corp 10-K page {n}\n{body}\n{n}" for n, body in enumerate(bodies, start=1)]
    assert drop_repeated_lines(pages) == [f"{body}\n{n}" for n, body in enumerate(bodies, start=1)]


def test_body_lines_differing_in_numbers_are_kept():
    pages = [f"Title\nintro\nTotal revenue {n}00\nmore\nend" for n in range(1, 5)]
    assert [p.splitlines()[0] for p in drop_repeated_lines(pages)] == ["Total revenue 100", "Total revenue 200",
                                                                     "Total revenue 300", "Total revenue 400"]


def test_number_lines_are_never_dropped():
    pages = ["Revenue\n1,234", "Costs\n1,234", "Profit\n1,234"]
    assert drop_repeated_lines(pages) == pages


def test_short_documents_keep_their_lines():
    assert drop_repeated_lines(["Title\nA", "Title\nB"]) == ["Title\nA", "Title\nB"]


def test_clean_pages_cleans_then_drops_repeats():
    pages = ["Table of Contents\nfirst  page", "Table of Contents\nsecond", "Table of Contents\nthird"]
    assert clean_pages(pages) == ["first page", "second", "third"]
