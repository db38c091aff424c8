"""The bench's pure metrics: ranking, figures, citations, percentiles."""

from __future__ import annotations

import pytest

from bench.metrics import (
    citation_correct,
    contains_gold_figure,
    gold_figures,
    percentile,
    ranking_summary,
    recall_at_k,
    reciprocal_rank,
)


@pytest.fixture
def gold() -> set:
    return {("ADOBE", 54)}


def test_recall_counts_a_hit_only_within_k(gold):
    ranked = [("ADOBE", 1), ("ADOBE", 2), ("ADOBE", 54)]
    assert recall_at_k(ranked, gold, 3) == 1.0
    assert recall_at_k(ranked, gold, 2) == 0.0


def test_reciprocal_rank_is_one_over_first_gold_rank(gold):
    assert reciprocal_rank([("X", 1), ("ADOBE", 54)], gold) == 0.5
    assert reciprocal_rank([("X", 1)], gold) == 0.0


def test_ranking_summary_averages_over_questions(gold):
    summary = ranking_summary([([("ADOBE", 54)], gold), ([("X", 1)], gold)], ks=(1, 5))
    assert summary == {"n": 2, "recall@1": 0.5, "recall@5": 0.5, "mrr": 0.5}


def test_gold_figures_skip_years_and_numbers_from_the_question():
    figures = gold_figures("Margins fell from 36.8% in FY 2021 to 34.6% in 2022, a drop of $1,577.0 million.",
                           question="What happened to margins between 2021 and 2022?")
    assert figures == {"36.8", "34.6", "1577"}


def test_contains_gold_figure_compares_values_not_formatting():
    assert contains_gold_figure("It was 1577 million dollars [1].", "$1,577.00 million") is True
    assert contains_gold_figure("It grew a lot.", "$1,577.00 million") is False
    assert contains_gold_figure("Yes.", "Yes, it is improving.") is None


def test_citation_uses_marker_else_first_source(gold):
    pages = [("X", 1), ("ADOBE", 54)]
    assert citation_correct("The margin was 34.6% [2].", pages, gold) == (True, True)
    assert citation_correct("The margin was 34.6%.", pages, gold) == (False, False)


def test_percentile_interpolates():
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5
    assert percentile([], 95) == 0.0
