"""Pure metrics: ranking quality, text overlap, gold figures, citations, latency summaries.

No model, no I/O: every function here is a plain computation on lists and strings so
the smoke test can check it with hand-made inputs.
"""

from __future__ import annotations

import re
import statistics
from typing import Hashable, Iterable, Sequence

_NUMBER = re.compile(r"(?<![\w.])[-(]?\$?\d[\d,]*(?:\.\d+)?%?")
_CITATION = re.compile(r"\[(\d{1,2})\]")


def first_hit_rank(ranked: Sequence[Hashable], gold: set) -> int | None:
    """1-based rank of the first retrieved item that is gold, or None."""
    for rank, item in enumerate(ranked, start=1):
        if item in gold:
            return rank
    return None


def recall_at_k(ranked: Sequence[Hashable], gold: set, k: int) -> float:
    """1.0 when any of the top ``k`` is gold (FinanceBench's 'found at k' rule), else 0.0."""
    rank = first_hit_rank(ranked, gold)
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(ranked: Sequence[Hashable], gold: set) -> float:
    rank = first_hit_rank(ranked, gold)
    return 1.0 / rank if rank else 0.0


def ranking_summary(runs: Iterable[tuple[Sequence[Hashable], set]], ks: Sequence[int] = (1, 5)) -> dict:
    """Mean recall@k for each k and MRR over (ranked, gold) pairs."""
    runs = list(runs)
    if not runs:
        return {"n": 0, **{f"recall@{k}": 0.0 for k in ks}, "mrr": 0.0}
    out: dict = {"n": len(runs)}
    for k in ks:
        out[f"recall@{k}"] = sum(recall_at_k(r, g, k) for r, g in runs) / len(runs)
    out["mrr"] = sum(reciprocal_rank(r, g) for r, g in runs) / len(runs)
    return out


def normalize_number(token: str) -> str:
    """'$1,577.0' → '1577', '(34.60%)' → '34.6' — so figures compare by value, not format."""
    digits = token.strip("()$%-").replace(",", "").lstrip("$")
    if "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    return digits


def _is_year(value: str) -> bool:
    return value.isdigit() and len(value) == 4 and 1900 <= int(value) <= 2100


def gold_figures(gold_answer: str, question: str = "") -> set[str]:
    """Numbers in the gold answer that are neither years nor already given in the question."""
    asked = {normalize_number(t) for t in _NUMBER.findall(question)}
    figures = {normalize_number(t) for t in _NUMBER.findall(gold_answer)}
    return {f for f in figures if f and not _is_year(f) and f not in asked}


def contains_gold_figure(answer: str, gold_answer: str, question: str = "") -> bool | None:
    """Whether the answer states one of the gold figures; None when the gold has none."""
    figures = gold_figures(gold_answer, question)
    if not figures:
        return None
    said = {normalize_number(t) for t in _NUMBER.findall(answer)}
    return bool(figures & said)


def cited_indexes(answer: str, n_sources: int) -> list[int]:
    """0-based indexes of the context chunks an answer cites as [n], in order, valid ones only."""
    seen: list[int] = []
    for match in _CITATION.findall(answer):
        index = int(match) - 1
        if 0 <= index < n_sources and index not in seen:
            seen.append(index)
    return seen


def citation_correct(answer: str, source_pages: Sequence[Hashable], gold: set) -> tuple[bool, bool]:
    """(correct, explicit): is the cited page gold? Without a [n] marker the first source counts."""
    cited = cited_indexes(answer, len(source_pages))
    explicit = bool(cited)
    if not cited:
        cited = [0] if source_pages else []
    return any(source_pages[i] in gold for i in cited), explicit


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def latency_summary(seconds: Sequence[float]) -> dict:
    """p50/p95/mean in milliseconds."""
    return {
        "n": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000,
        "p95_ms": percentile(seconds, 95) * 1000,
        "mean_ms": (statistics.fmean(seconds) * 1000) if seconds else 0.0,
    }


def text_overlap(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """Corpus BLEU and chrF (sacrebleu) of answers against one reference each."""
    import sacrebleu

    refs = [list(references)]
    return {
        "bleu": sacrebleu.corpus_bleu(list(hypotheses), refs).score,
        "chrf": sacrebleu.corpus_chrf(list(hypotheses), refs).score,
    }
