"""Hybrid retrieval: dense (Chroma) + keyword (BM25) for one or more queries, fused by rank.

Several queries (e.g. the condensed standalone question and the raw one) are searched
independently and all their ranked lists go into one reciprocal-rank fusion, so a bad
rewrite by a small model can only add candidates, not lose the good ones.
"""

from __future__ import annotations

import logging
from typing import Any

from rag.embeddings import Embedder
from rag.fusion import collapse_near_duplicates, merge_same_page, reciprocal_rank_fusion
from rag.keyword_index import BM25Index
from rag.types import Chunk, Source
from rag.vector_store import ChromaStore

logger = logging.getLogger(__name__)

MIN_CANDIDATES = 20


class CrossEncoderReranker:
    """Optional second stage: a sentence-transformers CrossEncoder scores (query, chunk) pairs."""

    def __init__(self, source: str, device: str = "cpu") -> None:
        from sentence_transformers import CrossEncoder

        self.name = source
        self.model = CrossEncoder(source, device=device)

    def rerank(self, query: str, sources: list[Source]) -> list[Source]:
        if not sources:
            return sources
        scores = self.model.predict([(query, s.text) for s in sources], show_progress_bar=False)
        for source, score in zip(sources, scores):
            source.score = float(score)
        return sorted(sources, key=lambda s: s.score, reverse=True)


def _source(chunk: Chunk, score: float) -> Source:
    return Source(document_id=chunk.document_id, filename=chunk.filename, page=chunk.page,
                  text=chunk.text, score=score, chunk_id=chunk.id)


class HybridRetriever:
    """Dense + BM25 over one owner scope; ``search`` returns fused, de-duplicated Sources."""

    def __init__(self, store: ChromaStore, bm25: BM25Index, embedder: Embedder,
                 reranker: Any | None = None, dense_weight: float = 1.0) -> None:
        self.store = store
        self.bm25 = bm25
        self.embedder = embedder
        self.reranker = reranker
        self.dense_weight = dense_weight

    def ranked_lists(self, queries: list[str], n: int,
                     document_ids: list[str] | None = None) -> tuple[list[list[str]], dict[str, Chunk]]:
        """Per query, the dense and the BM25 ranking (chunk ids), plus the chunks already fetched."""
        lists: list[list[str]] = []
        chunks: dict[str, Chunk] = {}
        for query in queries:
            dense = self.store.query(self.embedder.embed_query(query), n, document_ids)
            chunks.update((chunk.id, chunk) for chunk, _ in dense)
            lists.append([chunk.id for chunk, _ in dense])
            lists.append([chunk_id for chunk_id, _ in self.bm25.query(query, n, document_ids)])
        return lists, chunks

    def search(self, queries: str | list[str], k: int = 5,
               document_ids: list[str] | None = None) -> list[Source]:
        """Top ``k`` chunks for the queries; ``score`` is the fused RRF score (or the reranker's)."""
        if isinstance(queries, str):
            queries = [queries]
        queries = [q for q in dict.fromkeys(q.strip() for q in queries) if q]  # unique, in order
        if not queries or k <= 0:
            return []
        n = max(MIN_CANDIDATES, 4 * k)
        lists, chunks = self.ranked_lists(queries, n, document_ids)
        fused = reciprocal_rank_fusion(lists, weights=(self.dense_weight, 1.0))[:n]
        missing = [chunk_id for chunk_id, _ in fused if chunk_id not in chunks]
        chunks.update((chunk.id, chunk) for chunk in self.store.get_chunks(missing))
        sources = [_source(chunks[cid], score) for cid, score in fused if cid in chunks]
        sources = merge_same_page(collapse_near_duplicates(sources))
        if self.reranker is not None:
            sources = self.reranker.rerank(queries[0], sources[: max(k * 3, 10)])
        return sources[:k]
