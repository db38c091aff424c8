"""Combine ranked lists and remove repeats. Pure functions, tested as exact values."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Hashable, Sequence, TypeVar

from rag.types import Source

T = TypeVar("T", bound=Hashable)

RRF_K = 60
_NON_WORD = re.compile(r"\W+")


def reciprocal_rank_fusion(
    ranked_lists: Sequence[Sequence[T]], k: int = RRF_K, weights: Sequence[float] | None = None
) -> list[tuple[T, float]]:
    """Reciprocal-rank fusion (Cormack et al. 2009): score(d) = Σ w / (k + rank), rank from 1.

    Scores of different retrievers (cosine, BM25) are not comparable; ranks are. Ties
    keep the order in which items were first seen. ``weights`` (cycled over the lists)
    lets one retriever count more than another.
    """
    scores: dict[T, float] = {}
    for i, ranked in enumerate(ranked_lists):
        weight = weights[i % len(weights)] if weights else 1.0
        for rank, item in enumerate(ranked, start=1):
            scores[item] = scores.get(item, 0.0) + weight / (k + rank)
    return sorted(scores.items(), key=lambda pair: pair[1], reverse=True)


def _fingerprint(text: str) -> str:
    return _NON_WORD.sub(" ", text.lower()).strip()


def _near_identical(a: str, b: str, threshold: float) -> bool:
    if a == b:
        return True
    shorter, longer = sorted((a, b), key=len)
    if not shorter:
        return False
    if shorter in longer and len(shorter) >= threshold * len(longer):
        return True
    ta, tb = set(a.split()), set(b.split())
    return bool(ta and tb) and len(ta & tb) / len(ta | tb) >= threshold


def collapse_near_duplicates(sources: list[Source], threshold: float = 0.9) -> list[Source]:
    """Keep the first (best) of sources sharing a chunk id or with near-identical text.

    "Near-identical" ignores case and punctuation: the same boilerplate paragraph
    repeated on several pages, or the same PDF uploaded under another name, is shown once.
    """
    kept: list[Source] = []
    seen_ids: set[str] = set()
    prints: list[str] = []
    for source in sources:
        if source.chunk_id and source.chunk_id in seen_ids:
            continue
        fingerprint = _fingerprint(source.text)
        if any(_near_identical(fingerprint, other, threshold) for other in prints):
            continue
        kept.append(source)
        prints.append(fingerprint)
        if source.chunk_id:
            seen_ids.add(source.chunk_id)
    return kept


def merge_same_page(sources: list[Source], max_chunks_per_page: int = 2, evidence_weight: float = 0.0,
                    evidence_chunks: int = 3) -> list[Source]:
    """One source per (document, page), ranked by the page's evidence.

    Citations are per page, so five chunks of one page would spend five context slots
    on one citation; merging gives the model (and the page-level benchmarks) more
    distinct pages. Up to ``max_chunks_per_page`` chunks are joined in reading order.

    A page's score is its best chunk's score plus ``evidence_weight`` times the scores of
    its next best chunks (``evidence_chunks`` in all): a page on which several chunks
    match — a statement table split into rows that all carry the page's heading, a
    section that keeps returning to the question's subject — is stronger evidence than
    a page with one lucky chunk. With weight 0 pages keep the rank of their best chunk.
    """
    groups: dict[tuple[str, int], list[Source]] = {}
    for source in sources:
        groups.setdefault((source.document_id, source.page), []).append(source)
    merged = []
    for group in groups.values():
        best = group[0]
        score = best.score + evidence_weight * sum(s.score for s in group[1:evidence_chunks])
        joined = group[:max_chunks_per_page]
        text = best.text
        if len(joined) > 1:
            ordered = sorted(joined, key=lambda s: _chunk_index(s.chunk_id))
            text = ordered[0].text
            for following in ordered[1:]:
                text = join_overlapping(text, following.text)
        merged.append(replace(best, text=text, score=score))
    return sorted(merged, key=lambda s: s.score, reverse=True) if evidence_weight else merged


def join_overlapping(first: str, second: str, min_overlap: int = 8) -> str:
    """``first`` then ``second`` without repeating the text they share.

    Neighbouring chunks overlap by design (``chunk_overlap``): the end of one is the
    start of the next. Joined blindly, a merged source shows that passage twice. The
    longest end of ``first`` that begins ``second`` (ignoring surrounding blanks) is
    written once; chunks that do not touch are joined on a new line.
    """
    head, tail = first.rstrip(), second.lstrip()
    for size in range(min(len(head), len(tail)), min_overlap - 1, -1):
        if head.endswith(tail[:size]):
            return head + tail[size:]
    return head + "\n" + tail


def _chunk_index(chunk_id: str) -> int:
    """The index part of a chunk id 'document:page:index' (0 when it has none)."""
    tail = chunk_id.rsplit(":", 1)[-1]
    return int(tail) if tail.isdigit() else 0
