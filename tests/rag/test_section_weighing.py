"""Search results weighed by their page's role: statements a question needs, sections it names."""

from __future__ import annotations

import pytest

from rag.page_roles import BALANCE
from rag.section_weighing import weigh_sections
from rag.types import Source


def _source(page: int, score: float, section: str | None) -> Source:
    return Source("doc", "a.pdf", page, "text", score, f"doc:{page}:0", section=section)


def test_weighing_lifts_a_close_statement_page_but_not_a_far_one():
    ranked = [_source(1, 0.030, "Item 7. MD&A"), _source(2, 0.026, "Consolidated Balance Sheets"),
              _source(3, 0.012, "Consolidated Balance Sheets"), _source(4, 0.011, None)]
    weighed = weigh_sections(ranked, "What is the current ratio?", [BALANCE], statement_weight=0.25)
    assert [s.page for s in weighed] == [2, 1, 3, 4]
    assert weighed[0].score == pytest.approx(0.026 * 1.25)
    assert [s.page for s in weigh_sections(ranked, "", [])] == [1, 2, 3, 4]


def test_a_section_the_question_names_is_weighed_up_and_unknown_sections_are_left_alone():
    ranked = [_source(1, 0.030, None), _source(2, 0.027, "PART I › Item 1A. Risk Factors")]
    assert [s.page for s in weigh_sections(ranked, "What are the risk factors?", section_weight=0.25)] == [2, 1]
    assert [s.page for s in weigh_sections(ranked, "What are the risk factors?", section_weight=0.0)] == [1, 2]
