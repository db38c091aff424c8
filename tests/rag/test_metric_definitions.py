"""Metric definitions as data: what a question names, the prompt block, and label queries that
find a statement page the question's own words miss (real KnowledgeBase over a real PDF)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.metric_definitions import (
    METRICS_FILE,
    calls_for_arithmetic,
    definitions_prompt,
    defines_itself,
    label_queries,
    line_items_in,
    load_metrics,
    metrics_in,
)
from tests.pdfs import make_pdf

STATEMENTS = {"income statement", "balance sheet", "cash flow statement", "non-GAAP reconciliation"}


def keys(question: str) -> list[str]:
    return [m.key for m in metrics_in(question)]


def test_every_metric_has_names_a_formula_and_labelled_line_items():
    metrics = load_metrics()
    assert len(metrics) >= 30
    assert len({m.key for m in metrics}) == len(metrics)
    for metric in metrics:
        assert metric.names and metric.names_zh and metric.formula and metric.formula_zh, metric.key
        assert metric.line_items, metric.key
        for item in metric.line_items:
            assert item.labels and item.labels_zh and item.statement in STATEMENTS, (metric.key, item.name)


def test_the_metrics_load_once_from_the_shipped_file():
    assert load_metrics() is load_metrics() and load_metrics(METRICS_FILE) == load_metrics()
    turnover = {m.key: m for m in load_metrics()}["inventory_turnover"]
    assert turnover.average and [i.statement for i in turnover.line_items] == ["income statement", "balance sheet"]


@pytest.mark.parametrize("question, expected", [
    ("What was 3M's capex in FY2022?", ["capex"]),
    ("Does Verizon have a healthy liquidity profile based on its quick ratio for FY 2022?", ["quick_ratio"]),
    ("What is the FY2018 fixed asset turnover ratio for CVS Health?", ["fixed_asset_turnover"]),
    ("What is the FY2020 Asset Turnover Ratio of Lockheed Martin?", ["asset_turnover"]),
    ("公司2022年的毛利率是多少？", ["gross_margin"]),
    ("今年的资本支出是多少？", ["capex"]),
    ("What is the FY2015 unadjusted EBITDA % margin for Netflix?", ["ebitda_margin"]),
    ("What is FY2018 days payable outstanding (DPO) for Walmart?", ["dpo"]),
    ("Compare the debt-to-equity and the current ratio", ["debt_to_equity", "current_ratio"]),
    ("Define working capital ratio as total current assets divided by total current liabilities.", ["current_ratio"]),
    ("What was the free cashflow and ROE?", ["free_cash_flow", "roe"]),
])
def test_metrics_in_finds_the_metrics_a_question_names(question, expected):
    assert keys(question) == expected


@pytest.mark.parametrize("question", [
    "What is the capital of France", "Who is the CEO", "How do I oil my bicycle chain?",
    "Which region had the worst topline performance?", "熊猫吃什么？",
    "What is the return policy?",  # "return" alone is no return on assets
])
def test_metrics_in_finds_nothing_in_unrelated_questions(question):
    assert metrics_in(question) == []


def test_line_items_in_counts_named_items_and_the_metrics_items_once():
    assert [i.name for i in line_items_in("capex for FY2021")] == ["capital expenditure"]
    assert [i.name for i in line_items_in("资本支出")] == ["capital expenditure"]
    assert [i.name for i in line_items_in("How much were inventories at year end?")] == ["inventories"]
    assert [i.name for i in line_items_in("the quick ratio")] == [
        "total current assets", "inventories", "total current liabilities"]
    # the "inventory" inside "inventory turnover" is the metric's, named once
    assert [i.name for i in line_items_in("inventory turnover")] == ["cost of goods sold", "inventories"]
    assert line_items_in("Who is the CEO") == []


@pytest.mark.parametrize("question", [  # FinanceBench's own phrasing
    "What is Amazon's FY2017 days payable outstanding (DPO)? DPO is defined as: 365 * (average accounts payable "
    "between FY2016 and FY2017) / (FY2017 COGS + change in inventory between FY2016 and FY2017).",
    "what is Block's FY2016 working capital ratio? Define working capital ratio as total current assets divided "
    "by total current liabilities. Round your answer to two decimal places.",
    "what is the FY2020 free cash flow (FCF) for General Mills? FCF here is defined as: (cash from operations - "
    "capex). Answer in USD millions.",
    "What was MGM's interest coverage ratio using FY2022 Adjusted EBIT as the numerator and annual Interest "
    "Expense as the denominator?",
    "what is the FY2015 unadjusted EBITDA % margin for Netflix? Calculate unadjusted EBITDA using unadjusted "
    "operating income and D&A (from cash flow statement).",
    "Use the formula ROE = net income / equity.",
    "速动比率定义为（流动资产-存货）/流动负债，请计算。",
])
def test_a_question_that_gives_its_formula_defines_itself(question):
    assert defines_itself(question)
    assert definitions_prompt(question) == ""


@pytest.mark.parametrize("question", [
    "What is the FY2018 fixed asset turnover ratio for CVS Health?",
    "Does Verizon have a reasonably healthy liquidity profile based on its quick ratio for FY 2022?",
    "What is the FY2018 - FY2020 3 year average of capex as a % of revenue for MGM Resorts?",
    "公司2022年的毛利率是多少？",
])
def test_a_question_that_only_names_its_metric_does_not_define_it(question):
    assert not defines_itself(question)


@pytest.mark.parametrize("question", [
    "What is the FY2018 fixed asset turnover ratio for CVS Health?",
    "By how much did net sales grow in 2023?",
    "What percent of Ulta Beauty's total spend on stock repurchases occurred in Q4?",
    "How much has the effective tax rate of Corning changed between FY2021 and FY2022?",
    "What is the 3 year average of capex for MGM Resorts?",
    "What is Apple's FY2022 EBITDA?",  # a metric of the catalogue, no arithmetic word
    "2022年营业收入比2021年增长了多少？",
    "样本企业的员工平均每人喝了多少杯奶茶？",
])
def test_a_question_that_asks_for_a_worked_out_figure_calls_for_arithmetic(question):
    assert calls_for_arithmetic(question)


@pytest.mark.parametrize("question", [
    "Which method integrates knowledge into white-box models via directive fine-tuning?",
    "How many times does \"HIT\" appear in the slides?",
    "Who is the mayor of the town where the author of this document grew up?",
    "What does NARL mean in this report?",
    "What drove the change in the company's strategy?",
    "DEA模型的投入指标有哪些？",
    "2015-2021年安徽专精特新企业的全要素生产率指数是怎么变化的？",
])
def test_a_question_about_words_calls_for_no_arithmetic(question):
    assert not calls_for_arithmetic(question)


def test_definitions_prompt_in_english():
    assert definitions_prompt("What is Nike's FY2021 inventory turnover ratio?") == (
        "Definitions:\n"
        "- inventory turnover = cost of goods sold / average inventories. Printed in the income statement: "
        '"cost of sales" or "cost of products sold"; balance sheet: "inventories" or "merchandise inventories". '
        "Use the average of the two year-end balances; if only one is printed, use it and say so.")


def test_definitions_prompt_in_chinese():
    assert definitions_prompt("该公司2023年的速动比率是多少？") == (
        "指标定义：\n"
        "- 速动比率 = (流动资产合计 - 存货) / 流动负债合计。资产负债表：“流动资产合计”、“存货”、“流动负债合计”。")


def test_definitions_prompt_is_empty_without_a_metric():
    assert definitions_prompt("Who is the CEO of Adobe?") == ""


def test_label_queries_pair_the_statement_title_with_the_most_printed_labels():
    assert label_queries("What was PepsiCo's capex in FY2021?") == [
        "consolidated statements of cash flows capital expenditures capital spending purchases of property and equipment"]
    assert label_queries("the quick ratio") == [
        "consolidated balance sheets total current assets",
        "consolidated balance sheets inventories merchandise inventories inventory",
        "consolidated balance sheets total current liabilities"]
    # a Chinese question may be asked of an English filing: both languages' labels
    assert label_queries("今年的资本支出是多少？") == [
        "合并现金流量表 购建固定资产、无形资产和其他长期资产支付的现金",
        "consolidated statements of cash flows capital expenditures capital spending purchases of property and equipment"]
    assert label_queries("What is the capital of France") == []


# --- the labels in the search: a real knowledge base over a real statement PDF ------------------

NARRATIVE = [  # what a filing says around its statements: the question's own words live here
    "Acme in 2023: letter to shareholders. 2023 was a year of growth for Acme; Acme opened forty stores "
    "in 2023 and Acme's customers visited more often than in any year before 2023.",
    "Acme stores in 2023. At the end of 2023 Acme ran 1,240 stores; Acme remodelled sixty stores in 2023 "
    "and plans as many for the year after 2023.",
    "Acme's people in 2023. Acme had 12,400 employees at the end of 2023 and raised wages in 2023 in every "
    "region where Acme operates.",
    "Risks for Acme after 2023. Acme depends on its suppliers; what happened to prices in 2023 could happen "
    "again, and Acme may not pass higher costs on.",
    "Acme's customers in 2023. Acme's loyalty programme had nine million members in 2023; in 2023 Acme "
    "sold more online than ever.",
    "Acme's markets in 2023. Acme sells in nine countries; in 2023 Acme's largest market grew fastest.",
]
STATEMENTS_PAGES = [
    "ACME CORP CONSOLIDATED STATEMENTS OF OPERATIONS (in millions) Year ended December 31, 2023 2022 Net sales 14,200 "
    "13,100 Cost of sales 9,800 9,000 Gross profit 4,400 4,100 Operating income 1,800 1,650 Net income 1,250 1,100",
    "ACME CORP CONSOLIDATED BALANCE SHEETS (in millions) December 31, 2023 2022 Cash and cash equivalents 900 820 "
    "Inventories 1,300 1,210 Total current assets 3,400 3,150 Total assets 9,800 9,300",
    "ACME CORP CONSOLIDATED STATEMENTS OF CASH FLOWS (in millions) Year ended December 31, 2023 2022 Net income 1,250 "
    "1,100 Depreciation and amortization 410 395 Net cash provided by operating activities 1,980 1,720 "
    "Purchases of property and equipment (730) (655) Acquisitions, net of cash acquired (120) (40) "
    "Net cash used in investing activities (850) (695) Dividends paid (300) (280)",
    "ACME CORP Notes to the consolidated financial statements. Note 1: significant accounting policies. Revenue is "
    "recognised when control of the goods passes to the customer.",
]
FILING_PAGES = NARRATIVE + STATEMENTS_PAGES
CASH_FLOWS = ("acme_2023.pdf", len(NARRATIVE) + 3)


def test_a_capex_question_finds_the_cash_flow_statement_through_its_labels(make_kb, tmp_path: Path):
    kb = make_kb()
    kb.add_file(make_pdf(tmp_path / "acme_2023.pdf", FILING_PAGES), "acme_2023.pdf")
    question = "What was Acme's capex in 2023?"  # the statement prints "Purchases of property and equipment"
    pages = lambda **kw: [(s.filename, s.page) for s in kb.search(question, k=5, **kw)]  # noqa: E731
    assert CASH_FLOWS not in pages()  # the question's own words find the pages about Acme in 2023
    assert CASH_FLOWS in pages(phrasings=label_queries(question), phrasing_weight=1.0)


def test_a_follow_up_is_weighed_by_the_statement_its_standalone_question_names():
    from types import SimpleNamespace

    from rag.turn import Turn

    follow_up = SimpleNamespace(question="And in 2022?", standalone="What was Adobe's capex in 2022?")
    assert Turn.statements(follow_up) == ["cash flow statement"]
    assert Turn.statements(SimpleNamespace(question="What was capex?", standalone="And in 2022?")) == []
