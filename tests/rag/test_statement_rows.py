"""Statement rows with their columns' years (rag/statement_rows.py): from a real PDF page, and
from the headings real filings print (the shared FinanceBench filings' forms)."""

from pathlib import Path

from rag.pdf_loader import load_pages
from rag.statement_rows import statement_rows
from rag.text_cleaning import clean_pages
from tests.pdfs import make_statement_pdf


def _page_text(path: Path) -> list[str]:
    return clean_pages([page.text for page in load_pages(path)])


def test_a_real_statement_page_pairs_each_cell_with_its_year(tmp_path):
    path = make_statement_pdf(tmp_path / "ACME_2022_10K.pdf", [(
        ["ACME INC.", "CONSOLIDATED STATEMENTS OF CASH FLOWS", "(In millions)"], ["2022", "2021", "2020"],
        [("Cash flows from investing activities:", [
            ("Purchases of property and equipment", "(442)", "(348)", "(419)"),
            ("Net cash used for investing activities", "(570)", "(3,537)", "—")])])])
    rows = {row.label: row for row in statement_rows(_page_text(path))}
    capex = rows["Purchases of property and equipment"]
    assert capex.years == (2022, 2021, 2020) and capex.values == (-442, -348, -419)
    assert capex.at(2021) == ("348", -348) and capex.at(2019) is None
    assert rows["Net cash used for investing activities"].at(2020) == ("0", 0.0)  # "—" is nothing


def test_the_headings_filings_print_give_the_years_in_their_own_order():
    ascending = "AMAZON.COM, INC.\n(in millions)\nYear Ended December 31,\n2015 2016 2017\nTotal net sales: 107,006 | 135,987 | 177,866"
    as_a_row = "CONSOLIDATED STATEMENTS OF INCOME\nYear Ended December: 31, | 2017 | 2016 | 2015\nNET OPERATING REVENUES: $ 35,410 | $ 41,863 | $ 44,294"
    in_the_label = "For the Years Ended December 31, 2021 2020 2019 Operating revenues: $ 3,930 | $ 3,777 | $ 3,610"
    title_then_columns = ("Fiscal years ended December 25, 2021, December 26, 2020 and December: 28, | 2019\n(in millions)\n"
                          "2021 2020 2019\nCapital spending: (4,625) | (4,240) | (4,232)")
    found = {row.label: row for row in statement_rows([ascending, as_a_row, in_the_label, title_then_columns])}
    assert found["Total net sales"].at(2017) == ("177,866", 177866)
    assert found["NET OPERATING REVENUES"].at(2016) == ("41,863", 41863)
    assert found["Operating revenues"].at(2021) == ("3,930", 3930)
    assert found["Capital spending"].at(2021) == ("4,625", -4625)


def test_a_passage_borrows_the_heading_of_its_own_page_only():
    head = "CONSOLIDATED BALANCE SHEETS\n(In millions)\nDecember 31,\n2022 2021\nCash: 1,200 | 1,000"
    rest = "Inventories: 812 | 768\nTotal current assets: 2,145 | 1,970"
    rows = statement_rows([head, rest, rest], pages=[("10-K", 54), ("10-K", 54), ("10-K", 55)])
    same_page, other_page = rows[1], rows[3]
    assert same_page.label == "Inventories" and same_page.passage == 2 and same_page.at(2021) == ("768", 768)
    assert other_page.passage == 3 and other_page.years == ()  # which column is which year: unknown


def test_a_row_with_more_cells_than_years_has_no_years():
    text = "December 31,\n2022 2021\nTotal assets: 5,000 | 4,000 | 25%"
    [row] = statement_rows([text])
    assert row.years == () and row.at(2022) is None


def test_a_heading_from_the_index_names_the_columns_of_rows_search_returned_without_it():
    rest = "Inventories: 812 | 768\nTotal current assets: 2,145 | 1,970"
    head = "CONSOLIDATED BALANCE SHEETS\n(In millions)\nDecember 31,\n2022 2021\nCash: 1,200 | 1,000"
    [inventories, total] = statement_rows([rest], pages=[("10-K", 54)], headings=[(("10-K", 54), head)])
    assert inventories.at(2022) == ("812", 812) and total.at(2021) == ("1,970", 1970)
    assert statement_rows([rest], pages=[("10-K", 54)], headings=[(("10-K", 55), head)])[0].years == ()


def test_each_row_knows_the_group_line_above_it():
    text = ("2023 2022\nNet earnings: 1,228 | 897\nDiluted earnings per share attributable to shareholders\n"
            "Net earnings: 3.81 | 2.56")
    amount, per_share = statement_rows([text])
    assert amount.group == "" and per_share.group.startswith("Diluted earnings per share")
