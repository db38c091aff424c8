"""What of each passage the model is sent (rag/pruning.py): statement tables keep their
header, scale line and the rows the question names; prose the sentences that match; a
passage nothing matches keeps its start; weak tail passages are not sent."""

from pathlib import Path

import pytest

from rag.pdf_loader import load_pages
from rag.prompting import format_context
from rag.pruning import GAP, passages_to_send, prompt_passages, prune_passage
from rag.text_cleaning import clean_pages
from rag.types import Source
from tests.pdfs import make_statement_pdf

CASH_FLOW_ROWS = [
    ("Net income", "$ 4,756", "$ 4,822", "$ 5,260"),
    ("Depreciation, amortization and accretion", "856", "788", "757"),
    ("Stock-based compensation", "1,440", "1,069", "909"),
    ("Deferred income taxes", "328", "183", "(1,501)"),
    ("Trade receivables, net", "(198)", "(430)", "106"),
    ("Deferred revenue", "536", "1,053", "258"),
    ("Net cash provided by operating activities", "7,838", "7,230", "5,727"),
]
INVESTING_ROWS = [
    ("Purchases of short-term investments", "(909)", "(1,533)", "(1,071)"),
    ("Maturities of short-term investments", "683", "877", "915"),
    ("Purchases of property and equipment", "(442)", "(348)", "(419)"),
    ("Net cash used for investing activities", "(570)", "(3,537)", "(414)"),
]
PROSE = (
    "Our subscription revenue is comprised primarily of fees we charge for our hosted service offerings. "
    "We recognize subscription revenue ratably over the term of agreements with our customers. "
    "Product revenue is recognized when the license is delivered to the customer. "
    "Services and other revenue consists of consulting and training fees. "
    "Research and development expenses rose with the number of engineers we employ. "
    "Our offices in San Jose, California are leased until 2031."
)


@pytest.fixture
def cash_flow_page(tmp_path: Path) -> str:
    """The text docchat reads from a statement page laid out as filings print it."""
    path = make_statement_pdf(tmp_path / "ACME_2022_10K.pdf", [(
        ["ACME INC.", "CONSOLIDATED STATEMENTS OF CASH FLOWS", "(In millions)"], ["2022", "2021", "2020"],
        [("Cash flows from operating activities:", CASH_FLOW_ROWS),
         ("Cash flows from investing activities:", INVESTING_ROWS)])])
    [text] = clean_pages([page.text for page in load_pages(path)])
    return text


def _src(text: str, score: float, page: int = 1) -> Source:
    return Source(document_id="d", filename="f.pdf", page=page, text=text, score=score)


def test_a_statement_keeps_its_header_scale_line_and_the_named_rows(cash_flow_page):
    assert "Purchases of property and equipment: (442) | (348) | (419)" in cash_flow_page  # the page as read
    pruned = prune_passage("What was ACME's capital expenditure in FY2022?", cash_flow_page,
                           extra_terms=["Purchases of property and equipment", "Capital expenditures"])
    lines = pruned.splitlines()
    assert lines[:3] == ["ACME INC.", "CONSOLIDATED STATEMENTS OF CASH FLOWS", "(In millions)"]
    assert lines[3] == "2022 2021 2020"  # the column years
    assert "Purchases of property and equipment: (442) | (348) | (419)" in lines
    assert "Cash flows from investing activities:" in lines  # the row's group, to read it by
    assert "Stock-based compensation: 1,440 | 1,069 | 909" not in pruned
    assert GAP in lines
    assert len(pruned) < len(cash_flow_page) / 2


def test_a_question_naming_a_row_by_its_own_words_keeps_that_row(cash_flow_page):
    pruned = prune_passage("How much deferred revenue did ACME report?", cash_flow_page)
    assert "Deferred revenue: 536 | 1,053 | 258" in pruned.splitlines()
    assert "(In millions)" in pruned
    assert "Maturities of short-term investments: 683 | 877 | 915" not in pruned


def test_prose_keeps_the_matching_sentence_and_a_neighbour():
    pruned = prune_passage("When is product revenue recognized?", PROSE)
    assert "Product revenue is recognized when the license is delivered to the customer." in pruned
    assert "Services and other revenue consists of consulting and training fees." in pruned  # its neighbour
    assert "San Jose" not in pruned
    assert len(pruned) < len(PROSE)


def test_a_question_with_no_overlap_keeps_the_start_of_the_passage():
    pruned = prune_passage("Who painted the Mona Lisa?", PROSE)
    assert pruned.startswith("Our subscription revenue is comprised primarily of fees")
    assert pruned.strip() and len(pruned) < len(PROSE)


def test_a_short_passage_goes_whole():
    text = "Revenue was $5M in 2023."
    assert prune_passage("What was revenue?", text) == text


def test_chinese_keeps_the_rows_and_sentences_the_question_names():
    table = ("合并利润表\n单位：万元\n项目: 2022年 | 2021年\n营业收入: 12,345 | 10,234\n营业成本: 8,765 | 7,654\n"
             "销售费用: 1,234 | 1,111\n管理费用: 987 | 876\n研发费用: 765 | 654\n财务费用: 123 | 111")
    pruned = prune_passage("公司2022年的研发费用是多少？", table)
    lines = pruned.splitlines()
    assert lines[:3] == ["合并利润表", "单位：万元", "项目: 2022年 | 2021年"]
    assert "研发费用: 765 | 654" in lines
    assert "营业成本: 8,765 | 7,654" not in pruned
    prose = ("茶文化在中国有几千年的历史。泡绿茶时，水温不宜过高，八十度左右最好。红茶可以用开水冲泡。"
             "熊猫主要生活在四川的山区。熊猫以竹子为主要食物。每天要吃十几公斤竹子。")
    pruned = prune_passage("熊猫吃什么食物？", prose)
    assert "熊猫以竹子为主要食物。" in pruned and "泡绿茶" not in pruned


def test_passages_to_send_keeps_the_first_and_drops_only_a_far_weaker_tail():
    sources = [_src("a", 0.033), _src("b", 0.030), _src("c", 0.012), _src("d", 0.025), _src("e", 0.010)]
    assert passages_to_send(sources) == 4  # "c" is weak but "d" after it is not: only the tail goes
    assert passages_to_send([_src("a", 0.033), _src("b", 0.01), _src("c", 0.009)]) == 1
    assert passages_to_send([_src("a", 0.0)]) == 1
    assert passages_to_send([]) == 0


def test_prompt_passages_prunes_each_passage_sent(cash_flow_page):
    sources = [_src(cash_flow_page, 0.033), _src(PROSE, 0.031, page=2), _src("Unrelated words.", 0.010, page=3)]
    texts = prompt_passages("How much deferred revenue did ACME report?", sources)
    assert len(texts) == 2
    assert "Deferred revenue: 536 | 1,053 | 258" in texts[0] and len(texts[0]) < len(cash_flow_page)
    assert texts[1].strip()


def test_format_context_sends_the_given_texts_under_the_sources_numbers():
    sources = [_src("Alpha whole text. More alpha.", 0.03), _src("Beta whole.", 0.02, page=7),
               _src("Gamma.", 0.01, page=9)]
    block = format_context(sources, texts=["Alpha whole text.\n…", " Beta whole. "])
    assert block == (
        "<context>\n"
        "[1] f.pdf, p. 1\nAlpha whole text.\n…\n\n"
        "[2] f.pdf, p. 7\nBeta whole.\n"
        "</context>"
    )
    assert format_context(sources) == format_context(sources, texts=[s.text for s in sources])


def test_a_question_that_compares_keeps_every_row_it_compares():
    table = ("The following table sets forth the notional amounts of our outstanding derivative instruments:\n"
             "(dollars in millions)\n"
             "At December 31,: 2021 | 2020\n"
             "Interest rate swaps: $ 19,779 | $ 17,768\n"
             "Cross currency swaps: 32,502 | 26,288\n"
             "Forward starting interest rate swaps: 1,000 | 2,000\n"
             "Foreign exchange forwards: 932 | 1,405\n"
             "Verizon 2021 Annual Report on Form 10-K")
    asked = "Which derivative used to manage interest rate exposure had the highest notional value?"
    assert "Cross currency swaps: 32,502 | 26,288" in prune_passage(asked, table).splitlines()
    plain = "What was the notional value of the interest rate swaps?"
    assert "Cross currency swaps: 32,502 | 26,288" not in prune_passage(plain, table)



def test_a_question_asking_for_the_gist_gets_whole_passages():
    sources = [_src(PROSE, 0.03), _src("Short second passage.", 0.029, page=2)]
    assert prompt_passages("Summarize the revenue recognition policy.", sources) == [PROSE, "Short second passage."]
    assert prompt_passages("这份文件的主要内容是什么？", sources) == [PROSE, "Short second passage."]
    assert prompt_passages("When is product revenue recognized?", sources)[0] != PROSE
