from rag.tables import format_row, format_table_rows


def test_row_label_and_values_are_joined_with_separators():
    assert format_row("Net income $ 596 $ 2,371 $ 3,033") == "Net income: $ 596 | $ 2,371 | $ 3,033"
    assert format_row("Interest expense (459) (484) (848)") == "Interest expense: (459) | (484) | (848)"
    assert format_row("Growth rate 12.5% 13.1%") == "Growth rate: 12.5% | 13.1%"
    assert format_row("Proceeds from sales — — 9") == "Proceeds from sales: — | — | 9"


def test_lines_that_are_not_rows_are_left_alone():
    for line in ("2015 2016 2017", "In 2017 we sold 5 items to 3 people", "Total 4", "CONSOLIDATED BALANCE SHEETS", ""):
        assert format_row(line) == line


def test_only_rows_change_and_words_keep_their_order():
    text = "CASH FLOWS\nYear 2021 2022\nDepreciation 856 788\nSee the notes."
    assert format_table_rows(text) == "CASH FLOWS\nYear: 2021 | 2022\nDepreciation: 856 | 788\nSee the notes."
