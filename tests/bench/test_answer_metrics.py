"""The answer benchmark's pure metrics (bench/metrics.py): gold figures with tolerance and
scales, SQuAD-style exact match and F1, [n] citations, abstention, answer language, and the
per-set summary of bench/answers.py's records."""

from __future__ import annotations

import pytest

from bench.metrics import (
    answer_summary,
    answered_in_chinese,
    cited_indexes,
    cites_gold,
    contains_gold_figure,
    decode_tokens_per_s,
    exact_match,
    gold_in_answer,
    gold_items,
    normalize_answer,
    token_f1,
)
from rag.prompting import NOT_IN_DOCS_EN, NOT_IN_DOCS_ZH, is_abstention


# --- gold figures: 1% tolerance and scale words ---------------------------------------
@pytest.mark.parametrize("answer", [
    "Operating income was 1.577 billion [1].",
    "It was $1,577 million.",
    "It was $1.58 billion.",  # rounded: 0.2% off
    "The figure is 1,577 (in millions) [2].",
    "About 1,577,000 thousand dollars.",
])
def test_gold_figure_matches_the_same_amount_in_any_scale(answer):
    assert contains_gold_figure(answer, "$1,577 million") is True


@pytest.mark.parametrize("answer", [
    "It was $1.6 billion.",  # 1.5% off
    "It was 1,577 billion.",  # a thousand times too much
    "It was 15.77 million.",
    "It grew a lot [1].",
])
def test_gold_figure_rejects_other_amounts(answer):
    assert contains_gold_figure(answer, "$1,577 million") is False


def test_gold_figure_tolerance_is_one_percent_of_the_gold():
    assert contains_gold_figure("DPO was 94.79 days.", "93.86") is True  # 0.99% off
    assert contains_gold_figure("DPO was 94.81 days.", "93.86") is False  # 1.01% off


def test_gold_figure_ignores_sign_years_and_citation_marks():
    assert contains_gold_figure("Advertising costs fell by 3.65% [2].", "-3.65%") is True
    assert contains_gold_figure("Adjusted EBITDA was $2,018 million [1].", "AMCOR's Adj. EBITDA was $2,018mn") is True
    assert contains_gold_figure("It happened in 2018 [1].", "$2,018mn") is False  # a year is not the figure
    assert contains_gold_figure("See [5].", "5.0") is False  # a mark is not a figure


def test_a_percentage_does_not_match_an_amount_with_a_scale_word():
    assert contains_gold_figure("The margin was 5.4 million.", "5.4%") is False
    assert contains_gold_figure("The margin was 5.4 percent.", "5.4%") is True


def test_gold_without_figures_or_only_figures_from_the_question_is_not_scored():
    assert contains_gold_figure("Yes.", "Yes, it is improving.") is None
    assert contains_gold_figure("Revenue rose in FY2022.", "Yes, in FY 2022.") is None
    assert contains_gold_figure("47 stores.", "47", question="Did it open 47 stores?") is None


# --- short answers: SQuAD-style normalisation, EM, F1 -----------------------------------
def test_normalisation_drops_case_punctuation_articles_and_marks_but_keeps_decimals():
    assert normalize_answer("The Electronic-Medical Records [1].") == "electronic medical records"
    assert normalize_answer("$35,000 and 3.65%") == "35000 and 3.65"
    assert normalize_answer("An apple, a pear [2, 3]") == "apple pear"


def test_exact_match_after_normalisation():
    assert exact_match("the Crisper.", "Crisper") == 1.0
    assert exact_match("Crisper [1]", "crisper") == 1.0
    assert exact_match("The crisper drawer", "Crisper") == 0.0


def test_list_gold_answers_are_their_items_in_order():
    assert gold_items("['radiowaves', 'microwaves']") == ["radiowaves", "microwaves"]
    assert gold_items("[2005, 2006]") == ["2005", "2006"]
    assert gold_items("[not a list") == ["[not a list"]
    assert exact_match("Radiowaves, microwaves.", "['radiowaves', 'microwaves']") == 1.0


def test_token_f1_exact_values():
    # answer tokens: david lubliner presented slides (4); gold: david lubliner (2); overlap 2
    assert token_f1("David Lubliner presented the slides.", "David Lubliner") == pytest.approx(2 / 3)
    assert token_f1("David Lubliner", "David Lubliner") == 1.0
    assert token_f1("Someone else", "David Lubliner") == 0.0
    assert token_f1("", "David Lubliner") == 0.0


def test_gold_in_answer_needs_every_item_as_whole_tokens():
    assert gold_in_answer("Yes, CFCs cause skin burns [2].", "Yes") is True
    assert gold_in_answer("It was 130 days.", "13") is False
    assert gold_in_answer("Radiowaves are used [1].", "['radiowaves', 'microwaves']") is False
    assert gold_in_answer("Microwaves and radiowaves [1].", "['radiowaves', 'microwaves']") is True


# --- citations -------------------------------------------------------------------------
def test_cited_indexes_reads_grouped_marks_and_drops_invalid_ones():
    assert cited_indexes("A [2]. B [1, 3]. C [9]. D [2，1].", 3) == [1, 0, 2]
    assert cited_indexes("No marks here.", 3) == []


def test_cites_gold_only_through_an_explicit_mark():
    pages = [("X", 1), ("ADOBE", 54)]
    gold = {("ADOBE", 54)}
    assert cites_gold("The margin was 34.6% [2].", pages, gold) is True
    assert cites_gold("The margin was 34.6% [1].", pages, gold) is False
    assert cites_gold("The margin was 34.6%.", list(reversed(pages)), gold) is False  # first source not assumed


# --- abstention and language -------------------------------------------------------------
def test_the_abstention_sentences_are_recognised():
    assert is_abstention(NOT_IN_DOCS_EN) and is_abstention(NOT_IN_DOCS_ZH)
    assert not is_abstention("The company owns 3 parrots [1].")


def test_answer_language_ignores_marks():
    assert answered_in_chinese("数据来自国泰安数据库[1]。") is True
    assert answered_in_chinese(NOT_IN_DOCS_ZH) is True
    assert answered_in_chinese("The data come from the CSMAR database [1].") is False


def test_decode_rate_counts_tokens_after_the_first():
    assert decode_tokens_per_s(21, 0.5, 2.5) == 10.0
    assert decode_tokens_per_s(1, 0.5, 2.5) is None
    assert decode_tokens_per_s(21, None, 2.5) is None


# --- the per-set summary -----------------------------------------------------------------
def record(answerable=True, correct=None, abstained=False, cited=(), cited_gold=False, n_sources=5,
           chinese_question=False, chinese_answer=False, em=None, f1=None, ttft_s=None, tps=None,
           prompt_tokens=None, seconds=1.0) -> dict:
    return {"answerable": answerable, "correct": correct, "abstained": abstained, "cited": list(cited),
            "cited_gold": cited_gold, "n_sources": n_sources, "chinese_question": chinese_question,
            "chinese_answer": chinese_answer, "em": em, "f1": f1, "ttft_s": ttft_s,
            "decode_tokens_per_s": tps, "prompt_tokens": prompt_tokens, "seconds": seconds}


@pytest.fixture
def finance_records() -> list[dict]:
    return [
        record(correct=True, cited=[2], cited_gold=True, ttft_s=1.0, tps=10.0, prompt_tokens=1000),
        record(correct=True, cited=[], ttft_s=3.0, tps=20.0, prompt_tokens=2000),
        record(correct=False, cited=[1], ttft_s=2.0, tps=30.0, prompt_tokens=3000),
        record(correct=False, abstained=True, ttft_s=5.0, tps=40.0, prompt_tokens=600),
        record(correct=None, cited=[1]),  # gold without a figure: not scored
        record(answerable=False, abstained=True),
        record(answerable=False, abstained=False, cited=[1]),
    ]


def test_summary_scores_correctness_abstention_and_citations(finance_records):
    s = answer_summary(finance_records)
    assert (s["answerable"], s["unanswerable"], s["scored"]) == (5, 2, 4)
    assert s["correct"] == 0.5
    assert s["false_abstention"] == 0.2  # 1 of 5 answerable
    assert s["abstention"] == 0.5  # 1 of 2 unanswerable
    assert s["with_marks"] == 0.75  # 3 of the 4 answerable that used passages
    assert s["cited_gold"] == 0.5 and s["cited_gold_n"] == 2  # over the 2 correct answers
    assert s["em"] is None and s["chinese_answers"] is None


def test_summary_speed_is_median_ttft_median_rate_mean_prompt(finance_records):
    s = answer_summary(finance_records)
    assert s["ttft_p50_s"] == 2.5
    assert s["decode_tokens_per_s"] == 25.0
    assert s["prompt_tokens"] == 1650.0
    assert s["seconds_per_answer"] == 1.0


def test_summary_without_gold_answers_judges_citations_on_every_answer():
    records = [
        record(chinese_question=True, chinese_answer=True, cited=[1], cited_gold=True),
        record(chinese_question=True, chinese_answer=False, cited=[2], cited_gold=False),
        record(chinese_question=True, chinese_answer=True, abstained=True),
        record(answerable=False, chinese_question=True, chinese_answer=True, abstained=True),
    ]
    s = answer_summary(records, gold_answers=False)
    assert s["correct"] is None and s["scored"] == 0
    assert s["cited_gold"] == 0.5 and s["cited_gold_n"] == 2  # the abstention is not judged
    assert s["chinese_answers"] == 0.75
    assert s["abstention"] == 1.0 and s["false_abstention"] == pytest.approx(1 / 3)


def test_summary_with_gold_answers_but_none_scorable_judges_no_citations():
    s = answer_summary([record(correct=None, cited=[1], cited_gold=True)])
    assert s["correct"] is None and s["cited_gold"] is None and s["cited_gold_n"] == 0
    assert s["with_marks"] == 1.0


def test_summary_of_short_answers_averages_em_and_f1_over_answerable_questions():
    records = [record(correct=True, em=1.0, f1=1.0), record(correct=False, em=0.0, f1=0.5),
               record(answerable=False, abstained=True)]
    s = answer_summary(records)
    assert (s["em"], s["f1"], s["correct"]) == (0.5, 0.75, 0.5)


def test_summary_without_passages_has_no_citation_shares():
    s = answer_summary([record(correct=True, n_sources=0), record(answerable=False, n_sources=0)])
    assert s["with_marks"] is None and s["cited_gold"] is None and s["cited_gold_n"] == 0
