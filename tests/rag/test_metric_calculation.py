"""Metrics computed by code from a real PDF's statement rows (rag/metric_calculation.py), and
the prepared calculation in a turn: in the question's message, among the turn's calculations
with its operands' pages, and not mistaken for an unaccounted figure."""

from pathlib import Path

import pytest

from rag.metric_calculation import prepare, prompt_text
from rag.pdf_loader import load_pages
from rag.text_cleaning import clean_pages
from tests.pdfs import make_statement_pdf
from tests.rag.test_compute import CalculatingBackend
from tests.rag.test_citations import scripted_turn

INCOME = (["HARBOR LAMP COMPANY", "CONSOLIDATED STATEMENTS OF OPERATIONS", "(In millions)"], ["2023", "2022", "2021"],
          [("", [("Net sales", "$ 4,396", "$ 3,921", "$ 3,650"),
                 ("Cost of sales", "2,610", "2,380", "2,200"),
                 ("Operating income", "702", "655", "(120)"),
                 ("Net income", "$ 512", "$ 470", "$ 401")])])
BALANCE = (["HARBOR LAMP COMPANY", "CONSOLIDATED BALANCE SHEETS", "(In millions)"], ["2023", "2022"],
           [("Current assets:", [("Inventories", "812", "768"),
                                 ("Total current assets", "2,145", "1,970")]),
            ("Current liabilities:", [("Accounts payable", "455", "430"),
                                      ("Total current liabilities", "1,630", "1,512")])])


@pytest.fixture
def statement_pages(tmp_path: Path) -> tuple[Path, list[str]]:
    path = make_statement_pdf(tmp_path / "HARBOR_2023_10K.pdf", [INCOME, BALANCE])
    return path, clean_pages([page.text for page in load_pages(path)])


def test_a_metric_over_average_balances_is_read_from_the_right_lines_and_columns(statement_pages):
    _, pages = statement_pages
    [prepared] = prepare("What is Harbor Lamp's FY2023 inventory turnover ratio?", pages)
    calc = prepared.calculation
    assert calc.expression == "2,610 / ((812 + 768) / 2)"  # 2023's cost of sales, both year-ends' inventories
    assert calc.ok and round(calc.result, 2) == 3.30
    assert [(o.text, o.source) for o in calc.operands] == [("2,610", 1), ("812", 2), ("768", 2)]
    text = prompt_text([prepared], chinese=False)
    assert "inventory turnover, FY2023: cost of goods sold / average inventories = 2,610 / ((812 + 768) / 2) = 3.3 [1][2]" in text


def test_a_three_year_average_a_variant_formula_and_a_loss(statement_pages):
    _, pages = statement_pages
    [margin] = prepare("What is the FY2021 - FY2023 3 year average operating margin?", pages)
    assert margin.calculation.expression == "avg(((-120) / 3,650 * 100), (655 / 3,921 * 100), (702 / 4,396 * 100))"
    assert margin.calculation.ok and abs(margin.calculation.result - (-120 / 3650 + 655 / 3921 + 702 / 4396) / 3 * 100) < 1e-9
    [dpo] = prepare("What is FY2023 DPO? DPO is defined as 365 * average accounts payable / "
                    "(FY2023 COGS + change in inventory between FY2022 and FY2023).", pages)
    assert dpo.calculation.expression == "365 * ((455 + 430) / 2) / (2,610 + 812 - 768)"
    assert dpo.formula == "as the question defines it"


def test_one_line_item_is_read_and_converted_to_the_scale_asked(statement_pages):
    _, pages = statement_pages
    [asked] = prepare("How much were total current assets at the end of FY2022? Answer in USD billions.", pages)
    assert asked.calculation.expression == "1,970 / 1,000" and asked.calculation.result == 1.97
    [plain] = prepare("What were total current liabilities at the end of FY2023?", pages)
    assert plain.calculation.expression == "1,630" and plain.calculation.ok
    assert 'total current liabilities, FY2023: the line "Total current liabilities" = 1,630 million [2]' in prompt_text([plain], False)
    assert "= 1,970 / 1,000 = 1.97 billion [2]" in prompt_text([asked], False)


@pytest.mark.parametrize("question", [
    "What is the FY2020 inventory turnover ratio?",  # no column for 2020's or 2019's balances
    "What was the inventory turnover ratio?",  # no year: which columns is a guess
    "What is the FY2023 net income as a % of total current assets?",  # a ratio the catalogue does not know
    "What is the FY2023 return on equity?",  # no equity line on these pages
])
def test_nothing_is_prepared_where_code_cannot_be_sure(statement_pages, question):
    _, pages = statement_pages
    assert prepare(question, pages) == []


def test_a_turn_sends_the_prepared_calculation_and_shows_its_operands(make_services, bundled_backend, statement_pages):
    path, _ = statement_pages
    backend = CalculatingBackend(bundled_backend, ["The FY2023 current ratio was 1.32 [1]."])
    _, streamed, result = scripted_turn(make_services, backend, path, "What was Harbor Lamp's FY2023 current ratio?")
    [(messages, _)] = backend.requests
    assert "current ratio, FY2023: total current assets / total current liabilities = 2,145 / 1,630 = 1.32" in messages[-1]["content"]
    [calc] = result.calculations
    balance = next(i for i, s in enumerate(result.sources, start=1) if "Total current assets" in s.text)
    assert calc["expression"] == "2,145 / 1,630" and calc["ok"]
    assert [(o["text"], o["source"]) for o in calc["operands"]] == [("2,145", balance), ("1,630", balance)]
    assert result.unaccounted == [] and streamed == result.text == "The FY2023 current ratio was 1.32 [1]."


def test_nothing_is_prepared_for_a_question_about_a_company_the_documents_never_name(make_services, bundled_backend,
                                                                                   statement_pages):
    path, pages = statement_pages
    assert prepare("What was Tesla's FY2023 current ratio?", pages) == []
    assert prepare("What was Tesla's FY2023 current ratio?", pages, filenames=["TESLA_2023_10K.pdf"]) != []
    backend = CalculatingBackend(bundled_backend, ["Tesla's FY2023 current ratio was 1.32 [1]."])
    _, _, result = scripted_turn(make_services, backend, path, "What was Tesla's FY2023 current ratio?")
    [(messages, _)] = backend.requests
    assert "Calculated by docchat" not in messages[-1]["content"] and result.calculations == []
    assert result.text == "Not in your documents."  # its one claim, 1.32, is printed nowhere


def test_a_balance_is_read_from_the_balance_sheet_not_from_the_cash_flow_statements_change_in_it():
    cash_flow = "CONSOLIDATED STATEMENTS OF CASH FLOWS\n(In millions)\n2023 2022\nInventories: (44) | 31\nCost of sales: 2,610 | 2,380"
    balance = "CONSOLIDATED BALANCE SHEETS\n(In millions)\n2023 2022\nInventories: 812 | 768"
    question = "What is the FY2023 inventory turnover ratio?"
    [known] = prepare(question, [cash_flow, balance], statements=["cash flow statement", "balance sheet"])
    assert known.calculation.expression == "2,610 / ((812 + 768) / 2)"
    [unknown] = prepare(question, [cash_flow, balance])  # without the pages' roles the first row wins
    assert unknown.calculation.expression == "2,610 / (((-44) + 31) / 2)"


def test_a_per_share_row_is_not_the_amount():
    page = ("CONSOLIDATED STATEMENTS OF EARNINGS\n$ in millions\n2017 2016\nRevenue: 39,403 | 39,528\n"
            "Net earnings attributable to Best Buy: 1,228 | 897\nDiluted earnings per share\nNet earnings: 3.81 | 2.56")
    [margin] = prepare("What is Best Buy's FY2017 net profit margin?", [page], filenames=["BESTBUY_2017_10K.pdf"])
    assert margin.calculation.expression == "1,228 / 39,403 * 100"


def test_a_question_about_a_trend_gets_the_year_before_too(statement_pages):
    _, pages = statement_pages
    before, asked = prepare("Is Harbor Lamp's operating margin improving as of FY2023?", pages)
    assert before.name == "operating margin, FY2022" and before.calculation.expression == "655 / 3,921 * 100"
    assert asked.name == "operating margin, FY2023" and asked.calculation.expression == "702 / 4,396 * 100"


def test_a_chinese_question_gets_the_calculation_in_chinese(statement_pages):
    _, pages = statement_pages
    [ratio] = prepare("Harbor Lamp 2023财年的流动比率是多少？", pages)
    assert ratio.calculation.expression == "2,145 / 1,630"
    text = prompt_text([ratio], chinese=True)
    assert text.startswith("docchat 已根据片段中印出的数字算出")
    assert "流动比率，FY2023：" not in text and "流动比率，FY2023: 流动资产合计 / 流动负债合计 = 2,145 / 1,630 = 1.32 [2]" in text


@pytest.mark.parametrize("question, expected", [
    ("What is the FY2023 current ratio?", True),
    ("What were total current assets at the end of FY2022?", True),
    ("What was the current ratio?", False),  # no year
    ("Who audits Harbor Lamp in 2023?", False),  # no metric, no line item
])
def test_only_a_question_code_may_compute_reads_pages(question, expected):
    from rag.metric_calculation import preparable

    assert preparable(question) is expected


@pytest.mark.parametrize("answer, kept", [
    ("Harbor Lamp's operating margin fell to 15.97% in FY2023 from 16.70%, which suggests weaker pricing "
     "discipline going forward [1].", True),
    ("Harbor Lamp's operating margin fell, which suggests weaker pricing discipline going forward [1].", False),
])
def test_an_answer_stating_the_prepared_result_is_drawn_from_the_passages(make_services, bundled_backend,
                                                                        statement_pages, answer, kept):
    """Most of its words are the model's own judgment, which the grounding check alone would
    replace by the abstention; stating what code computed from the rows is what ties it to them."""
    path, _ = statement_pages
    backend = CalculatingBackend(bundled_backend, [answer])
    _, _, result = scripted_turn(make_services, backend, path, "Is Harbor Lamp's operating margin improving in FY2023?")
    assert sorted(c["expression"] for c in result.calculations) == ["655 / 3,921 * 100", "702 / 4,396 * 100"]
    assert (result.text == answer) is kept and not result.replaced
    if not kept:  # its judgment is not in the passages, and it states none of the margins: docchat does
        assert result.stated_by_code and result.model_text == answer
        assert result.text.splitlines() == [
            "Operating margin, FY2022: operating income / revenue * 100 = 655 / 3,921 * 100 = 16.7% [1]",
            "Operating margin, FY2023: operating income / revenue * 100 = 702 / 4,396 * 100 = 15.97% [1]"]


@pytest.mark.parametrize("answer", ["[1]", "[1] Not in your documents.", "Not in your documents."])
def test_an_answer_that_says_nothing_of_the_prepared_calculation_gets_it_from_docchat(
        make_services, bundled_backend, statement_pages, answer):
    """A 0.5B model often answers a metric question with a bare mark or a decline while code has
    read the metric off the statement rows: the reader gets the calculation, marked as docchat's."""
    path, _ = statement_pages
    backend = CalculatingBackend(bundled_backend, [answer])
    _, _, result = scripted_turn(make_services, backend, path, "What is Harbor Lamp's FY2023 current ratio?")
    assert result.stated_by_code and not result.replaced and result.model_text == answer
    assert result.text == "Current ratio, FY2023: total current assets / total current liabilities = 2,145 / 1,630 = 1.32 [1]"
    assert result.warnings[-1] == "The model's answer did not state docchat's calculation, so docchat states it."


def test_a_decline_stands_when_code_prepared_nothing(make_services, bundled_backend, statement_pages):
    path, _ = statement_pages
    backend = CalculatingBackend(bundled_backend, ["Not in your documents."])
    _, _, result = scripted_turn(make_services, backend, path, "Who audits Harbor Lamp's FY2023 statements?")
    assert result.text == "Not in your documents." and not result.stated_by_code and not result.calculations


GUARANTOR = (["HARBOR LAMP COMPANY", "CONDENSED CONSOLIDATING BALANCE SHEETS", "Guarantor subsidiaries",
              "(In millions)"], ["2023", "2022"],
             [("Current assets:", [("Inventories", "301", "288"), ("Total current assets", "905", "870")])])
INVENTORY_NOTE = (["HARBOR LAMP COMPANY", "NOTE 5. INVENTORIES", "(In millions)"], ["2023", "2022"],
                  [("Inventories by kind:", [("Finished goods", "512", "498"), ("Raw materials", "300", "270"),
                                             ("Total inventories", "812", "768")])])


def test_the_statement_search_missed_is_read_from_the_companys_own_pages(make_services, bundled_backend, tmp_path):
    """Asked for inventory turnover, search returns the balance sheet (k=1); cost of sales is on
    the income statement, which it did not return: docchat reads that from the document's own
    statement pages, and the page joins the passages."""
    path = make_statement_pdf(tmp_path / "HARBOR_2023_10K.pdf", [INCOME, BALANCE, INVENTORY_NOTE, GUARANTOR])
    backend = CalculatingBackend(bundled_backend, ["[1]"])
    _, _, result = scripted_turn(make_services, backend, path, "What is the FY2023 inventory turnover ratio?", k=1)
    [calc] = result.calculations
    assert calc["expression"] == "2,610 / ((812 + 768) / 2)" and calc["ok"]
    pages = [s.page for s in result.sources]
    assert pages[0] == 2 and [pages[o["source"] - 1] for o in calc["operands"]] == [1, 2, 2]


def test_a_line_is_read_from_the_companys_own_statement_before_a_guarantors(make_services, bundled_backend, tmp_path):
    """The guarantor subsidiaries' condensed consolidating balance sheet, further on in the
    filing, ranks first for "inventories"; the company's inventories are on its own balance sheet."""
    path = make_statement_pdf(tmp_path / "HARBOR_2023_10K.pdf", [INCOME, BALANCE, INVENTORY_NOTE, GUARANTOR])
    backend = CalculatingBackend(bundled_backend, ["[1]"])
    _, _, result = scripted_turn(make_services, backend, path, "What were inventories at the end of FY2023?")
    [calc] = result.calculations
    assert [s.page for s in result.sources] == [4, 2]
    assert calc["expression"] == "812" and [o["source"] for o in calc["operands"]] == [2]


def test_a_choice_among_rows_gets_no_total_line(statement_pages):
    _, pages = statement_pages
    assert prepare("Which of Harbor Lamp's products had the lowest net sales in FY2023?", pages) == []
    assert prepare("What were Harbor Lamp's net sales in FY2023?", pages) != []
