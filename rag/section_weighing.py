"""Search results weighed by the role of their page (rag/page_roles.py): a question whose
line items live on a statement weighs up that statement's pages, a question that names a
section ("risk factors", "methodology") the pages under it.

Kept apart from rag/page_roles.py, whose source keys the benchmarks' index cache: tuning a
weight here changes no stored index.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from rag.page_roles import canonical_statement, names_section, statement_kind

# A page on a wanted statement: its fused score × (1 + this). Measured with the statements of
# the question's own words and the metric catalogue's line items (rag/metric_definitions.py):
# all 54 filings recall@1 0.275 -> 0.429, recall@5 0.582 -> 0.703 (0.25: 0.385 / 0.681); the
# twelve 0.375 -> 0.500 / 0.792 -> 0.833.
STATEMENT_WEIGHT = 0.5
# A page under a section the question names. Off: on the twelve filings 0.25 and 0.5 cost
# recall@1 (0.375 -> 0.333) and left recall@5 at 0.792; 0 keeps every search on the plain path.
SECTION_WEIGHT = 0.0


def weigh_sections(sources: list, question: str = "", statements: Iterable[str] = (),
                   statement_weight: float | None = None, section_weight: float | None = None) -> list:
    """``sources`` (rag.types.Source, best first) re-ordered with the pages on a wanted statement,
    or under a section the question names, weighed up: their score grows by a share of itself,
    so a strong page elsewhere still wins over a weak statement page. Sources without a
    section (indexed before sections) keep their score. Stable: ties keep the given order."""
    statement_weight = STATEMENT_WEIGHT if statement_weight is None else statement_weight
    section_weight = SECTION_WEIGHT if section_weight is None else section_weight
    wanted = {canonical_statement(s) or s for s in statements}
    weighed = []
    for source in sources:
        share = 0.0
        if wanted and statement_kind(source.section) in wanted:
            share += statement_weight
        if question and section_weight and names_section(question, source.section):
            share += section_weight
        weighed.append(replace(source, score=source.score + share * abs(source.score)) if share else source)
    return sorted(weighed, key=lambda s: s.score, reverse=True)
