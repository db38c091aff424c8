"""Hybrid retrieval: dense (Chroma) + keyword (BM25) for one or more queries, fused by rank.

Several queries (e.g. the condensed standalone question and the raw one) are searched
independently and all their ranked lists go into one reciprocal-rank fusion, so a bad
rewrite by a small model can only add candidates, not lose the good ones.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, Sequence

from rag.embeddings import Embedder
from rag.fusion import collapse_near_duplicates, merge_same_page, reciprocal_rank_fusion
from rag.keyword_index import BM25Index
from rag.reranker import CrossEncoderReranker  # noqa: F401  (re-exported: its old home)
from rag.routing import document_terms, route
from rag.splitter import document_title, embedding_text
from rag.types import Chunk, Source
from rag.vector_store import ChromaStore
from settings import Settings

logger = logging.getLogger(__name__)

MIN_CANDIDATES = 20
RERANK_CANDIDATES = 30  # pages handed to the cross-encoder; it returns the best k of them
CATALOGUE_CHUNKS = 3  # a document's routing terms: its title and its first chunks
# A page's second matching chunk adds this share of its fused score to the best one's
# (rag/fusion.py merge_same_page). Chosen on both the twelve filings and MMLongBench
# (BENCHMARKS.md §1): 0.3 over three chunks lifts the filings' recall@5 0.79 → 0.88 but
# drops the long reports' recall@1 0.36 → 0.23; 0.1 over two raises recall@1 and MRR on both.
PAGE_EVIDENCE_WEIGHT = 0.1
PAGE_EVIDENCE_CHUNKS = 2
DENSE_WEIGHT = Settings.model_fields["dense_weight"].default  # one default, the settings'


def _source(chunk: Chunk, score: float) -> Source:
    return Source(document_id=chunk.document_id, filename=chunk.filename, page=chunk.page,
                  text=chunk.text, score=score, chunk_id=chunk.id, section=chunk.section or None)


class HybridRetriever:
    """Dense + BM25 over one owner scope; ``search`` returns fused, de-duplicated Sources."""

    def __init__(self, store: ChromaStore, bm25: BM25Index, embedder: Embedder,
                 reranker: Any | None = None, dense_weight: float = DENSE_WEIGHT, routing: bool = True,
                 rerank_candidates: int = RERANK_CANDIDATES) -> None:
        self.store = store
        self.bm25 = bm25
        self.embedder = embedder
        self.reranker = reranker
        self.dense_weight = dense_weight
        self.routing = routing
        self.rerank_candidates = rerank_candidates
        self._catalogue: dict[str, tuple[set[str], set[str]]] = {}
        self._catalogue_lock = threading.Lock()

    def catalogue(self) -> dict[str, tuple[set[str], set[str]]]:
        """(title terms, opening terms) per indexed document, in step with the keyword index."""
        indexed = self.bm25.document_ids()
        with self._catalogue_lock:
            if indexed != self._catalogue.keys():
                catalogue = {d: terms for d, terms in self._catalogue.items() if d in indexed}
                for document_id in indexed - catalogue.keys():
                    first = self.store.first_chunks(document_id, CATALOGUE_CHUNKS)
                    title = document_title(first[0].filename) if first else ""
                    catalogue[document_id] = (document_terms(title),
                                              document_terms(" ".join(embedding_text(c) for c in first)))
                self._catalogue = catalogue
            return self._catalogue

    def routed_documents(self, queries: list[str], document_ids: list[str] | None = None) -> list[str]:
        """Documents the queries name (rag/routing.py), to be searched once more on their own."""
        if not self.routing:
            return []
        catalogue = self.catalogue()
        return list(dict.fromkeys(d for q in queries for d in route(q, catalogue, document_ids)))

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

    def search(self, queries: str | list[str], k: int = 5, document_ids: list[str] | None = None,
               phrasings: Sequence[str] = (), phrasing_weight: float = 1.0) -> list[Source]:
        """Top ``k`` pages' sources for the queries; ``score`` is the page's fused RRF evidence (or the reranker's).

        ``phrasings`` (the chat model's search phrasings, rag/condense.py) join the fusion at
        ``phrasing_weight``, searched only within the documents the queries name when they
        name some: a phrasing like "balance sheet" would otherwise pull in every document's.
        """
        if isinstance(queries, str):
            queries = [queries]
        queries = [q for q in dict.fromkeys(q.strip() for q in queries) if q]  # unique, in order
        phrasings = [p for p in dict.fromkeys(p.strip() for p in phrasings) if p and p not in queries]
        if not queries or k <= 0:
            return []
        n = max(MIN_CANDIDATES, 4 * k, self.rerank_candidates if self.reranker is not None else 0)
        sides = (self.dense_weight, 1.0)
        lists, chunks = self.ranked_lists(queries, n, document_ids)
        list_weights = list(sides) * len(queries)
        routed = self.routed_documents(queries, document_ids)
        if routed:  # the named documents' own rankings join the fusion: weighed up, nothing excluded
            more, more_chunks = self.ranked_lists(queries, n, routed)
            lists += more
            list_weights += list(sides) * len(queries)
            chunks.update(more_chunks)
        if phrasings and phrasing_weight > 0:
            more, more_chunks = self.ranked_lists(phrasings, n, routed or document_ids)
            lists += more
            list_weights += [w * phrasing_weight for w in sides] * len(phrasings)
            chunks.update(more_chunks)
        fused = reciprocal_rank_fusion(lists, weights=list_weights)[:n]
        missing = [chunk_id for chunk_id, _ in fused if chunk_id not in chunks]
        chunks.update((chunk.id, chunk) for chunk in self.store.get_chunks(missing))
        sources = [_source(chunks[cid], score) for cid, score in fused if cid in chunks]
        sources = merge_same_page(collapse_near_duplicates(sources), evidence_weight=PAGE_EVIDENCE_WEIGHT,
                                  evidence_chunks=PAGE_EVIDENCE_CHUNKS)
        if self.reranker is not None:
            sources = self.reranker.rerank(queries[0], sources[: max(k, self.rerank_candidates)])
        return sources[:k]
