"""A new embedding model re-embeds the whole collection before it is used: vectors never mix.

Each Chroma collection records the model that embedded it (rag/vector_store.py). When
docchat starts with another model (``DOCCHAT_EMBEDDING_MODEL=embeddinggemma`` on an index
built with MiniLM, or back), every stored chunk is embedded again by the new model, with a
progress bar, into a staging collection beside the old one. Only when all are there does
the staging collection take the old one's name; until then searches would still have used
the old vectors with the old model, so nothing ever compares vectors of two models.

Chunk ids, texts and metadata are copied unchanged (the same chunks, only new vectors), so
the keyword index, the registry and the chunk positions stay valid and nothing is parsed
again. A re-embedding that is interrupted resumes at the next start: the staging
collection keeps what was done, and a finished one whose swap was cut short is swapped.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from rag.embeddings import Embedder
from rag.splitter import embedding_text
from rag.types import EmbeddingModelMismatch
from rag.vector_store import GET_PAGE, ChromaStore, _chunk, _client

logger = logging.getLogger(__name__)

STAGING_SUFFIX = "_reembed"
COMPLETE_KEY = "reembed_complete"


def staging_name(name: str) -> str:
    return f"{name}{STAGING_SUFFIX}"


def open_store(chroma_dir: Path, name: str, embedder: Embedder, url: str | None = None,
               progress: bool = True) -> ChromaStore:
    """The collection ``name`` holding ``embedder``'s vectors, re-embedding it first if another
    model built it."""
    client = _client(Path(chroma_dir), url)
    finish_interrupted(client, name, embedder.name)
    try:
        return ChromaStore(chroma_dir, embedder.name, embedder.dimension, name, url=url)
    except EmbeddingModelMismatch as exc:
        logger.warning("%s Re-embedding every chunk with %s instead.", exc, embedder.name)
    reembed(client, name, embedder, progress)
    return ChromaStore(chroma_dir, embedder.name, embedder.dimension, name, url=url)


def _collection(client, name: str):
    from chromadb.errors import NotFoundError

    try:
        return client.get_collection(name)
    except (NotFoundError, ValueError):
        return None


def _model_metadata(embedder: Embedder) -> dict:
    return {"embedding_model": embedder.name, "embedding_dimension": embedder.dimension}


def finish_interrupted(client, name: str, model_name: str) -> None:
    """Swap in a finished staging collection whose swap was cut short; drop one of another model."""
    staging = _collection(client, staging_name(name))
    if staging is None:
        return
    meta = staging.metadata or {}
    if meta.get("embedding_model") != model_name:
        logger.info("dropping an unfinished re-embedding of %s with %s", name, meta.get("embedding_model"))
        client.delete_collection(staging.name)
    elif meta.get(COMPLETE_KEY):
        _swap(client, staging, name)


def _swap(client, staging, name: str) -> None:
    """The staging collection takes ``name`` (the old collection is deleted first: Chroma has
    no atomic swap, and the staging one, marked complete, survives a crash in between)."""
    meta = {k: v for k, v in (staging.metadata or {}).items() if k != COMPLETE_KEY}
    if _collection(client, name) is not None:
        client.delete_collection(name)
    staging.modify(name=name)
    staging.modify(metadata=meta)
    logger.info("collection %s now holds %s vectors", name, meta.get("embedding_model"))


def _done_ids(staging) -> set[str]:
    done: set[str] = set()
    while got := staging.get(include=[], limit=GET_PAGE, offset=len(done))["ids"]:
        done.update(got)
    return done


def reembed(client, name: str, embedder: Embedder, progress: bool = True) -> int:
    """Embed every chunk of collection ``name`` with ``embedder`` and make that the collection.

    Returns the number of chunks. Pages through the old collection (``GET_PAGE`` chunks at a
    time), skipping chunks a previous, interrupted run already embedded.
    """
    from tqdm import tqdm

    old = client.get_collection(name)
    staging = _collection(client, staging_name(name))
    if staging is not None and (staging.metadata or {}).get("embedding_model") != embedder.name:
        client.delete_collection(staging.name)
        staging = None
    if staging is None:
        staging = client.create_collection(staging_name(name), configuration={"hnsw": {"space": "cosine"}},
                                           metadata=_model_metadata(embedder), embedding_function=None)
    total = old.count()
    done = _done_ids(staging)
    with tqdm(total=total, initial=len(done), unit="chunk", desc=f"re-embedding {name} with {embedder.name}",
              disable=not progress) as bar:
        offset = 0
        while True:
            got = old.get(include=["documents", "metadatas"], limit=GET_PAGE, offset=offset)
            if not got["ids"]:
                break
            offset += len(got["ids"])
            rows = [(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"]) if i not in done]
            if not rows:
                continue
            texts = [embedding_text(_chunk(i, d, m)) for i, d, m in rows]
            step = [0]

            def advance(finished: int, _total: int) -> None:
                bar.update(finished - step[0])
                step[0] = finished

            vectors = embedder.embed_documents(texts, progress=advance)
            staging.upsert(ids=[i for i, _, _ in rows], embeddings=np.asarray(vectors, dtype=np.float32),
                           documents=[d for _, d, _ in rows], metadatas=[m for _, _, m in rows])
    if staging.count() != total:
        raise RuntimeError(f"re-embedding {name}: {staging.count()} chunks embedded, {total} expected")
    staging.modify(metadata={**_model_metadata(embedder), COMPLETE_KEY: True})
    _swap(client, staging, name)
    logger.info("re-embedded %d chunks of %s with %s", total, name, embedder.name)
    return total
