"""The optional second stage: a cross-encoder, or a second embedder, re-scores the fused candidates.

Off by default (``DOCCHAT_RERANKER_MODEL`` unset): on two CPU cores a cross-encoder over
30 candidates costs more than the whole hybrid search. On a GPU install it is the first
thing to turn on: ``DOCCHAT_RERANKER_MODEL=auto`` picks BAAI/bge-reranker-v2-m3
(multilingual, Chinese included) when it is cached or the Hub answers, and on a CPU
machine only a reranker that is already cached (never a download); an HF id or a local
directory names one explicitly (maidalun1020/bce-reranker-base_v1 for Chinese).

``DOCCHAT_RERANKER_MODEL=embeddinggemma`` re-scores with EmbeddingGemma-300M, the bundled
multilingual embedder (llm/bundled_embedder.py), as a bi-encoder: its rank of each candidate
is fused with the hybrid search's rank (``EmbeddingReranker``). Measured through the turn's
search (BENCHMARKS.md §2f): recall@5 0.758 -> 0.780 on all 54 FinanceBench filings, 0.553 ->
0.574 on MMLongBench-Doc, 0.90 on the zh paper either way; recall@1 up on the filings, down on
the long reports and the Chinese paper. On two CPU cores it embeds about one new candidate a
second (a first question over a filing waits 10-30 s), so it is an option for a GPU, not a default.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rag.fusion import reciprocal_rank_fusion
from rag.types import Source

logger = logging.getLogger(__name__)

# auto's preference order: the multilingual strong one, a Chinese/English one, a small English one.
AUTO_RERANKERS = ("BAAI/bge-reranker-v2-m3", "maidalun1020/bce-reranker-base_v1",
                  "cross-encoder/ms-marco-MiniLM-L-6-v2")


class Reranker(Protocol):
    name: str

    def rerank(self, query: str, sources: list[Source]) -> list[Source]: ...


class Scorer(Protocol):
    def predict(self, pairs: list[tuple[str, str]], show_progress_bar: bool = False) -> list[float]: ...


class CrossEncoderReranker:
    """Scores (query, chunk) pairs with a sentence-transformers CrossEncoder (or any ``Scorer``)."""

    def __init__(self, source: str, device: str = "cpu", model: Scorer | None = None) -> None:
        self.name = source
        if model is None:
            from sentence_transformers import CrossEncoder

            model = CrossEncoder(source, device=device)
        self.model = model

    def rerank(self, query: str, sources: list[Source]) -> list[Source]:
        """``sources`` re-ordered by the cross-encoder's score, which replaces the fused score."""
        if not sources:
            return sources
        scores = self.model.predict([(query, s.text) for s in sources], show_progress_bar=False)
        for source, score in zip(sources, scores):
            source.score = float(score)
        return sorted(sources, key=lambda s: s.score, reverse=True)


class EmbeddingReranker:
    """Re-scores candidates with a second (stronger) embedder and fuses its ranking with the
    hybrid search's by reciprocal rank (rag/fusion.py): 1/(60 + search rank) + weight/(60 +
    embedder rank), ties in the search's order.

    Fused, not replaced: EmbeddingGemma's order alone lost pages the hybrid order had in the
    five (the statement weighing and the line-item labels know what it does not); fused at
    weight 1 it kept them and found 2 of 91 more on the filings, 1 of 47 on MMLongBench-Doc.
    Chunk vectors are kept by chunk id (``cache_size`` of them, least recently used dropped), so
    a conversation about one document embeds its pages once.
    """

    def __init__(self, embedder: Any, weight: float = 1.0, cache_size: int = 20_000) -> None:
        self.embedder = embedder
        self.name = f"embeddings:{embedder.name}"
        self.weight = weight
        self.cache_size = cache_size
        self._vectors: OrderedDict[str, np.ndarray] = OrderedDict()
        self.embedded = 0  # candidates embedded so far (the rest came from the cache)

    def _chunk_vectors(self, sources: list[Source]) -> np.ndarray:
        keys = [s.chunk_id or s.text for s in sources]
        missing = list(dict.fromkeys(k for k in keys if k not in self._vectors))
        if missing:
            texts = {k: s.text for k, s in zip(keys, sources)}
            for key, vector in zip(missing, self.embedder.embed_documents([texts[k] for k in missing])):
                self._vectors[key] = vector
            self.embedded += len(missing)
        for key in keys:
            self._vectors.move_to_end(key)
        rows = np.stack([self._vectors[k] for k in keys])
        while len(self._vectors) > self.cache_size:
            self._vectors.popitem(last=False)
        return rows

    def rerank(self, query: str, sources: list[Source]) -> list[Source]:
        """``sources`` (best first) re-ordered by the fused ranks; ``score`` becomes the fused value."""
        if len(sources) < 2:
            return sources
        similarity = self._chunk_vectors(sources) @ self.embedder.embed_query(query)
        by_embedder = [int(i) for i in np.argsort(-similarity, kind="stable")]
        fused = reciprocal_rank_fusion([range(len(sources)), by_embedder], weights=[1.0, self.weight])
        ranked = []
        for i, score in fused:
            sources[i].score = score
            ranked.append(sources[i])
        return ranked


def resolve_reranker(setting: str | None, device: str) -> str | None:
    """The reranker to load for ``--reranker-model``: None (off), an explicit id/dir, or auto's pick."""
    if not setting or setting.lower() in ("none", "off", "false"):
        return None
    if setting.lower() != "auto":
        return setting
    from llm.model_paths import _hub_model_available, _weights_cached

    if device == "cuda":
        available, why = _hub_model_available(AUTO_RERANKERS[0])
        if available:
            logger.info("reranker auto: %s (%s)", AUTO_RERANKERS[0], why)
            return AUTO_RERANKERS[0]
    for repo_id in AUTO_RERANKERS:
        if _weights_cached(repo_id):
            logger.info("reranker auto: %s (cached)", repo_id)
            return repo_id
    logger.info("reranker auto: none cached%s; reranking is off", "" if device == "cuda" else " (CPU: no download)")
    return None


def make_reranker(setting: str | None, device: str = "cpu") -> Reranker | None:
    """The reranker ``setting`` names: None (off), a cross-encoder, or a bundled embedder's
    short name ("embeddinggemma") as a bi-encoder re-scorer."""
    from llm.bundled_embedder import BUNDLED_EMBEDDERS

    if setting and setting.strip().lower() in BUNDLED_EMBEDDERS:
        from rag.embeddings import embedder_for

        reranker = EmbeddingReranker(embedder_for(setting.strip().lower(), device))
        logger.info("reranker: %s re-scores the search's best candidates, its rank fused with the search's "
                    "(weight %.1f)", reranker.name, reranker.weight)
        return reranker
    source = resolve_reranker(setting, device)
    if source is None:
        return None
    if Path(source).expanduser().is_dir():
        source = str(Path(source).expanduser().resolve())
    return CrossEncoderReranker(source, device)
