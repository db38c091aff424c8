"""Figures: numbers read as pages print them (signs, scales, percentages, 万/亿), and an
answer's figures accounted for by the passages or by a calculation, at the precision
the answer writes them."""

from __future__ import annotations

import pytest

from rag.figures import Printed, answer_figures, find_value, printed_numbers, unaccounted

# Shapes seen in FinanceBench 10-Ks as pypdf reads them.
INCOME = """CONSOLIDATED STATEMENTS OF INCOME
(In millions, except per share data)
Years Ended December 31, 2022 2021
Total revenue $
17,606 $
15,785
Operating income 6,098 5,802
Net cash used in investing activities (4,396) (3,921)
Diluted net income per share $ 10.10 $ 10.02
"""
SEGMENTS = "Worldwide Sales Change\nSafety and Industrial 1.0 % (4.2) % (3.2) %\nTransportation 1.2 (0.5)"
PROSE = ("Net revenues of $8.4 billion in the current year compared to $4.7 billion in the prior year, "
         "an increase of 77%; MGM China revenue was $674 million.")
BALANCE_GLUED = "ConsolidatedBalanceSheets\n(Dollarsinmillions,exceptpersharedata)\nTotalassets 117,359 112,011"
THOUSANDS = "CONSOLIDATED BALANCE SHEETS\n(In thousands, except share data)\nCash and cash equivalents $ 1,526,762 $ 1,499,995"
ZH_TABLE = "合并资产负债表\n单位：万元 币种：人民币\n货币资金 32,000.50 28,760.00\n应收账款 (1,234.5)"
ZH_PROSE = "2022年公司实现营业收入12.5亿元，同比增长85.7%，净利润1,234万元。上市公司市值小于 100 亿元。"


def values(passage: str) -> list[tuple[str, float, tuple[float, ...]]]:
    return [(p.text, p.value, p.scales) for p in printed_numbers(passage)]


def test_a_statement_prints_signed_numbers_under_its_header_scale():
    found = values(INCOME)
    assert ("$ 17,606", 17606.0, (1e6,)) in found
    assert ("(4,396)", -4396.0, (1e6,)) in found
    assert ("$ 10.10", 10.10, (1e6,)) in found  # per-share data: matched as itself too (see find_value)


@pytest.mark.parametrize("passage, printed", [
    (SEGMENTS, Printed(-4.2, "(4.2) %", (0.01,))),
    (SEGMENTS, Printed(-0.5, "(0.5)", ())),
    ("growth of (0.4)% in the year", Printed(-0.4, "(0.4)%", (0.01,))),
    (PROSE, Printed(8.4, "$8.4 billion", (1e9,))),
    (PROSE, Printed(674.0, "$674 million", (1e6,))),
    (PROSE, Printed(77.0, "77%", (0.01,))),
    ("a loss of -$3.2 and − 45 units", Printed(-3.2, "-$3.2", ())),
    ("a loss of -$3.2 and − 45 units", Printed(-45.0, "− 45", ())),
    ("Online revenue of $4.4B", Printed(4.4, "$4.4B", (1e9,))),
    (BALANCE_GLUED, Printed(117359.0, "117,359", (1e6,))),
    ("Statement of Income (Millions, except per share amounts)\nNet sales 34,229", Printed(34229.0, "34,229", (1e6,))),
    (THOUSANDS, Printed(1526762.0, "$ 1,526,762", (1e3,))),
    ("Cash and cash equivalents were as follows ($ in millions): total 3,120", Printed(3120.0, "3,120", (1e6,))),
    (ZH_TABLE, Printed(32000.5, "32,000.50", (1e4,))),
    (ZH_TABLE, Printed(-1234.5, "(1,234.5)", (1e4,))),
    (ZH_PROSE, Printed(12.5, "12.5亿", (1e8,))),
    (ZH_PROSE, Printed(1234.0, "1,234万", (1e4,))),
    (ZH_PROSE, Printed(100.0, "100 亿", (1e8,))),
    ("资产负债表（人民币亿元）\n总资产 3.2", Printed(3.2, "3.2", (1e8,))),
])
def test_printed_numbers_read_signs_and_scales(passage, printed):
    assert printed in printed_numbers(passage)


def test_thousands_groups_must_be_whole():
    assert [p.value for p in printed_numbers("ratios 12,34 and 1,234,567.8")] == [12.0, 34.0, 1234567.8]


@pytest.mark.parametrize("value, passage_number", [
    (17606, 2),  # as printed
    (4396, 2),  # "(4,396)" used as its size
    (-4396, 2),
    (17_606_000_000, 2),  # times the page's scale
    (17.606, 2),  # ... in billions
    (8.4e9, 3),  # "$8.4 billion"
    (0.77, 3),  # "77%" as a fraction
    (-0.042, 1),  # "(4.2) %" as a fraction
    (1_250_000_000, 4),  # 12.5亿
    (125_000, 4),  # 12.5亿 in 万
    (None, None),
])
def test_find_value_names_the_passage_that_prints_it(value, passage_number):
    passages = [SEGMENTS, INCOME, PROSE, ZH_PROSE]
    if value is None:
        assert find_value(17607, passages) is None and find_value(0.078, passages) is None
    else:
        assert find_value(value, passages) == passage_number


def test_find_value_prefers_a_passage_printing_the_number_itself():
    assert find_value(8.4, ["Revenue (in millions) 8,400", PROSE]) == 2


@pytest.mark.parametrize("text, figures", [
    ("Adobe's operating margin fell from 36.8% in FY2021 to 34.6% in FY2022 [1][2].", ["36.8%", "34.6%"]),
    ("Revenue was $4.4 billion for the year ended December 31, 2022, up 12.1% (see Note 7 on page 54).",
     ["$4.4 billion", "12.1%"]),
    ("As of Dec. 31, 2022 (2022-12-31, 12/31/2022 at 10:30), Q4 revenue was $17,606 million.", ["$17,606 million"]),
    ("The 10-K's Item 7A, Part II and Exhibit 10.1 discuss COVID-19 and the S&P 500 over 12 months.", []),
    ("Costs fell by $475 million, or 3 percent, over the 3-year plan; 4th quarter; version 2.1.3.",
     ["$475 million", "3 percent"]),
    ("1. Revenue grew.\n2. Costs fell by $47 million.\n10. Other", ["$47 million"]),
    ("The ratio is <calc>(4,396 - 3,921) / 3,921 * 100</calc> = 12.11, i.e. 12.1%.", ["12.11", "12.1%"]),
    ("R2 is 0.2087; the answer is $59268.00; it took $2.77 of assets to generate $1 of revenue.",
     ["0.2087", "$59268.00", "$2.77"]),
    ("The effective tax rate was 0.62%, against -14.76% (a change of −15.38 points).",
     ["0.62%", "-14.76%", "−15.38"]),
    ("Coverage was 1.5x, and rates rose 50 basis points in 2022 across 3 segments.", ["1.5", "50 basis points"]),
    ("营业收入为3.2亿元，同比增长85.7%，见表3.1和图 3.2，2015-2021年共34家企业，截至2022年12月31日，第3章第28-43页。",
     ["3.2亿", "85.7%", "34"]),
])
def test_answer_figures_leave_out_dates_references_and_words(text, figures):
    assert answer_figures(text) == figures


@pytest.mark.parametrize("answer", [
    "Total revenue was $17,606 million in FY2022 [2].",
    "Total revenue was $17.6 billion [2].",  # another unit, rounded
    "Total revenue was about $18 billion.",
    "Total revenue was $17,606,000,000.",
    "Revenue of $17606.00 million, with investing outflows of $4.4 billion.",  # "(4,396)" in millions
    "Diluted EPS was $10.10 against $10.02.",
    "Sales fell 4.2% in Safety and Industrial and 0.5% in Transportation.",
    "Net revenues rose 77% to $8.4 billion from $4.7 billion; MGM China had $0.674 billion.",
    "Net revenues were $8,400 million.",
])
def test_right_answers_have_no_unaccounted_figures(answer):
    assert unaccounted(answer, [SEGMENTS, INCOME, PROSE]) == []


@pytest.mark.parametrize("answer, invented", [
    ("Total revenue was $17,607 million [2].", ["$17,607 million"]),
    ("Total revenue was $17.7 billion.", ["$17.7 billion"]),
    ("Operating income was $6,200 million.", ["$6,200 million"]),
    ("Revenue of $4.5 billion was invested.", ["$4.5 billion"]),  # 4,396 rounds to 4.4, not 4.5
    ("Revenue grew 11.5% to $17,606 million.", ["11.5%"]),  # growth computed in the head
    ("Net revenues rose 78% to $8.4 billion.", ["78%"]),
])
def test_invented_figures_are_caught(answer, invented):
    assert unaccounted(answer, [SEGMENTS, INCOME, PROSE]) == invented


def test_computed_results_account_for_figures_at_the_precision_written():
    growth = (17606 - 15785) / 15785 * 100  # 11.536...
    answer = "Revenue grew 11.5% (11.54 exactly) to $17,606 million."
    assert unaccounted(answer, [INCOME]) == ["11.5%", "11.54"]
    assert unaccounted(answer, [INCOME], computed=[growth]) == []
    assert unaccounted("Revenue grew 11.6%.", [INCOME], computed=[growth]) == ["11.6%"]
    assert unaccounted("The margin was 34.6%.", [INCOME], computed=[6098 / 17606]) == []  # a fraction, as a %
    assert unaccounted("Combined, $33.4 billion.", [INCOME], computed=[17606 + 15785]) == []  # sum in millions


def test_precision_decides_whether_a_rounded_figure_matches():
    passage = "Total (in millions) 4,396"
    assert unaccounted("It was $4.4 billion.", [passage]) == []
    assert unaccounted("It was $4.5 billion.", [passage]) == ["$4.5 billion"]
    assert unaccounted("It was $4.40 billion.", [passage]) == []
    assert unaccounted("It was $4.39 billion.", [passage]) == ["$4.39 billion"]  # truncated, not rounded
    assert unaccounted("It was $4,400 million.", [passage]) == []  # trailing zeros: rounded to the hundreds
    assert unaccounted("It was $4,500 million.", [passage]) == ["$4,500 million"]
    assert unaccounted("It was $20 billion.", ["a gain of approximately $21 billion"]) == ["$20 billion"]


def test_chinese_answers_are_accounted_for_in_万_and_亿():
    passages = [ZH_TABLE, ZH_PROSE]
    assert unaccounted("货币资金为3.2亿元，营业收入12.5亿元，同比增长85.7%，净利润1,234万元 [1][2]。", passages) == []
    assert unaccounted("货币资金为320,005,000元。", passages) == []
    assert unaccounted("营业收入13.5亿元，同比增长95.7%。", passages) == ["13.5亿", "95.7%"]


def test_years_page_numbers_and_dates_never_need_a_page():
    answer = ("In FY2022 (fiscal 2022, the year ended December 31, 2022) see page 54, Note 7 and Item 8; "
              "2022年12月31日，表 3.3，第 3 卷。")
    assert unaccounted(answer, []) == []


def test_a_calculation_shown_without_its_tags_is_accounted_for():
    passage = "Revenue (in millions) 4,396 3,921; 312 days"
    shown = "Gross margin was (4,396 - 3,921) / 4,396 * 100 = 10.81% in 2023 [1], or 365 * 312 / 4,396 = 25.9."
    computed = [(4396 - 3921) / 4396 * 100, 365 * 312 / 4396]
    assert unaccounted(shown, [passage], computed) == []
    assert unaccounted(shown.replace("4,396 -", "4,397 -"), [passage], computed) == ["4,397"]
    assert unaccounted("Margin was 100%.", [passage]) == ["100%"]  # with a unit, a constant is a claim


def test_states_reads_a_value_at_the_precision_and_unit_the_answer_writes():
    from rag.figures import states

    assert states("The operating margin for FY2022 was 34.64%.", 34.635919572872886)
    assert states("about $6.1 billion", 6098) and states("was 3.46 [1]", 3.4567)
    assert not states("was 34.7%", 34.6359) and not states("no figure here", 1.0)
