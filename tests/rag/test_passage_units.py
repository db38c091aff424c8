"""How a passage is cut into units (rag/passage_units.py), pinned as exact values."""

from rag.passage_units import Unit, split_units, table_heading


def test_statement_lines_are_rows_labels_and_heading_lines():
    text = ("ADOBE INC.\nCONSOLIDATED STATEMENTS OF CASH FLOWS\n(In millions)\nYears Ended\nDecember 2,\n2022\n"
            "Cash flows from investing activities:\nPurchases of property and equipment: (442) | (348) | (419)\n"
            "Net income $ 4,756")
    units = split_units(text)
    assert [u.kind for u in units] == ["line"] * 6 + ["label", "row", "row"]
    assert table_heading(units) == {0, 1, 2, 3, 4, 5, 6}


def test_prose_is_cut_into_sentences_not_at_abbreviations():
    prose = "The Firm holds U.S. Treasury securities, e.g. bills and notes. Acme Inc. sold its stake. It grew."
    assert [u.text for u in split_units(prose)] == [
        "The Firm holds U.S. Treasury securities, e.g. bills and notes.", "Acme Inc. sold its stake.", "It grew."]


def test_wrapped_lines_join_their_sentence_or_item():
    text = ("Our gross profit rate increased in the second quarter of fiscal 2024, primarily due to favorable product\n"
            "margin rates and improved financial performance from our membership offerings in every segment.\n"
            "• Consumer Electronics: The 5.7% comparable sales decline was driven primarily by home theater, offset by\n"
            "headphones and portable speakers.\n"
            "• Computerized\nPhysician Order Entry")
    units = split_units(text)
    assert units[0] == Unit("Our gross profit rate increased in the second quarter of fiscal 2024, primarily due to "
                            "favorable product margin rates and improved financial performance from our membership "
                            "offerings in every segment.", "sentence", 0)
    assert units[1] == Unit("• Consumer Electronics: The 5.7% comparable sales decline was driven primarily by home "
                            "theater, offset by headphones and portable speakers.", "line")
    assert units[2] == Unit("• Computerized Physician Order Entry", "line")


def test_chinese_prose_joins_without_spaces_and_splits_at_full_stops():
    text = "本文的企业数据来自同花顺iFind数据库，数字普惠金融指数来源于\n北京大学。样本期间为2015-2021年。"
    assert [u.text for u in split_units(text)] == ["本文的企业数据来自同花顺iFind数据库，数字普惠金融指数来源于北京大学。",
                                                   "样本期间为2015-2021年。"]
