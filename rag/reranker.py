"""The optional second stage: a cross-encoder re-scores the fused candidates.

Off by default (``DOCCHAT_RERANKER_MODEL`` unset): on two CPU cores a cross-encoder over
30 candidates costs more than the whole hybrid search. On a GPU install it is the first
thing to turn on: ``DOCCHAT_RERANKER_MODEL=auto`` picks BAAI/bge-reranker-v2-m3
(multilingual, Chinese included) when it is cached or the Hub answers, and on a CPU
machine only a reranker that is already cached (never a download); an HF id or a local
directory names one explicitly (maidalun1020/bce-reranker-base_v1 for Chinese).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Protocol

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
    source = resolve_reranker(setting, device)
    if source is None:
        return None
    if Path(source).expanduser().is_dir():
        source = str(Path(source).expanduser().resolve())
    return CrossEncoderReranker(source, device)
