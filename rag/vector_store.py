"""Chroma collections of chunk vectors, one per owner scope, that remember their model.

We embed ourselves (``embedding_function=None``) so ingestion and queries use the one
shared Embedder. Each collection's metadata records the embedding model's name and
dimension; opening it with another model raises ``EmbeddingModelMismatch`` instead of
returning silently wrong neighbours.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Iterator
from urllib.parse import urlsplit

import numpy as np

from rag.types import Chunk, EmbeddingModelMismatch

logger = logging.getLogger(__name__)

SHARED_COLLECTION = "docchat_shared"
ADD_BATCH = 1000
GET_PAGE = 2000
# A query filtered to this many documents or fewer is scored exactly over their vectors,
# which are kept (up to EXACT_CACHE_BYTES, least recently used out) after a first load.
EXACT_MAX_DOCUMENTS = 50
EXACT_CACHE_BYTES = 64 * 2**20


def collection_name(owner: str | None) -> str:
    """'docchat_shared' for shared documents, a hash-derived name per user (Chroma allows few characters)."""
    if not owner:
        return SHARED_COLLECTION
    return "docchat_user_" + hashlib.sha256(owner.encode("utf-8")).hexdigest()[:24]


def _client(chroma_dir: Path, url: str | None = None):
    """The embedded store under ``chroma_dir``, or a Chroma server's HTTP client when ``url`` is set."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    settings = ChromaSettings(anonymized_telemetry=False)
    if url:
        parsed = urlsplit(url if "://" in url else f"http://{url}")
        ssl = parsed.scheme == "https"
        return chromadb.HttpClient(host=parsed.hostname or "localhost", port=parsed.port or (443 if ssl else 8000),
                                   ssl=ssl, settings=settings)
    chroma_dir.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(chroma_dir), settings=settings)


def _metadata(chunk: Chunk) -> dict:
    return {"document_id": chunk.document_id, "filename": chunk.filename, "page": chunk.page,
            "page_end": chunk.page_end, "index": chunk.index, "context_prefix": chunk.context_prefix,
            "section": chunk.section}


def _chunk(chunk_id: str, text: str, meta: dict) -> Chunk:
    """A stored chunk; one indexed before sections existed has none ('')."""
    return Chunk(id=chunk_id, document_id=meta["document_id"], filename=meta["filename"],
                 page=int(meta["page"]), page_end=int(meta.get("page_end", meta["page"])),
                 index=int(meta.get("index", 0)), text=text or "",
                 context_prefix=str(meta.get("context_prefix") or ""), section=str(meta.get("section") or ""))


class ChromaStore:
    """One Chroma collection (an owner scope) under ``chroma_dir``, or on the Chroma server at ``url``.

    The chunk count is cached (one docchat process owns its collections): a query needs
    it, and asking Chroma for it on every query costs a round trip to its database.

    A query restricted to a few documents (a document filter, or the documents a question
    names) is answered by exact cosine over those documents' vectors instead of Chroma's
    metadata filter, which walks the whole collection's metadata (~150 ms at 200k chunks,
    BENCHMARKS.md §9). The vectors are loaded once per document and kept in a small LRU
    cache that every write to that document empties.
    """

    def __init__(self, chroma_dir: Path, model_name: str, dimension: int, name: str = SHARED_COLLECTION,
                 url: str | None = None) -> None:
        self.name = name
        self.model_name = model_name
        self.dimension = dimension
        self._count: int | None = None
        self._vectors: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()
        self._vectors_lock = threading.Lock()
        self._client = _client(Path(chroma_dir), url)
        self._collection = self._client.get_or_create_collection(
            name,
            configuration={"hnsw": {"space": "cosine"}},
            metadata={"embedding_model": model_name, "embedding_dimension": dimension},
            embedding_function=None,
        )
        self._check_model()

    def _check_model(self) -> None:
        meta = self._collection.metadata or {}
        built_with, built_dim = meta.get("embedding_model"), meta.get("embedding_dimension")
        if built_with == self.model_name and built_dim == self.dimension:
            return
        if self._collection.count() == 0:  # nothing to be wrong about: adopt the new model
            self._collection.modify(metadata={"embedding_model": self.model_name,
                                              "embedding_dimension": self.dimension})
            return
        raise EmbeddingModelMismatch(
            f"The document index '{self.name}' was built with embedding model {built_with!r} "
            f"(dimension {built_dim}), but the configured model is {self.model_name!r} "
            f"(dimension {self.dimension}). Start with --embedding-model {built_with} to use it, "
            f"or use another --data-dir (or delete its chroma/ and bm25/ folders) to re-index."
        )

    def add(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        """Upsert chunks with their vectors (same order), in batches Chroma accepts."""
        if len(chunks) != len(vectors):
            raise ValueError(f"{len(chunks)} chunks but {len(vectors)} vectors")
        batch = min(ADD_BATCH, self._client.get_max_batch_size())
        for start in range(0, len(chunks), batch):
            part = chunks[start : start + batch]
            self._collection.upsert(
                ids=[c.id for c in part],
                embeddings=np.asarray(vectors[start : start + batch], dtype=np.float32),
                documents=[c.text for c in part],
                metadatas=[_metadata(c) for c in part],
            )
        self._changed({c.document_id for c in chunks})

    def add_raw(self, ids: list[str], vectors: np.ndarray, texts: list[str], metadatas: list[dict]) -> None:
        """Upsert prepared rows (bulk loading and benchmarks fill the store without Chunk objects)."""
        batch = min(ADD_BATCH * 5, self._client.get_max_batch_size())
        for start in range(0, len(ids), batch):
            end = start + batch
            self._collection.upsert(ids=ids[start:end], embeddings=np.asarray(vectors[start:end], dtype=np.float32),
                                    documents=texts[start:end], metadatas=metadatas[start:end])
        self._changed({m["document_id"] for m in metadatas})

    def set_sections(self, sections: dict[str, str]) -> None:
        """Write each chunk's section into its metadata (chunks stored before sections existed)."""
        ids = list(sections)
        for start in range(0, len(ids), ADD_BATCH):
            part = ids[start : start + ADD_BATCH]
            got = self._collection.get(ids=part, include=["metadatas"])
            self._collection.update(ids=got["ids"], metadatas=[{**m, "section": sections[i]}
                                                               for i, m in zip(got["ids"], got["metadatas"])])

    def delete_document(self, document_id: str) -> None:
        self._collection.delete(where={"document_id": document_id})
        self._changed({document_id})

    def _changed(self, document_ids: set[str]) -> None:
        """Forget what a write made stale: the count and the written documents' cached vectors."""
        with self._vectors_lock:
            self._count = None
            for document_id in document_ids:
                self._vectors.pop(document_id, None)

    def count(self) -> int:
        count = self._count
        if count is None:
            count = self._count = self._collection.count()
        return count

    def query(self, vector: np.ndarray, k: int, document_ids: list[str] | None = None) -> list[tuple[Chunk, float]]:
        """The ``k`` nearest chunks with cosine similarity (1 - cosine distance), best first."""
        count = self.count()
        if k <= 0 or count == 0:
            return []
        where = None
        if document_ids is not None:
            if not document_ids:
                return []
            if len(document_ids) <= EXACT_MAX_DOCUMENTS:
                exact = self._exact_query(vector, k, list(dict.fromkeys(document_ids)))
                if exact is not None:
                    return exact
            where = {"document_id": {"$in": list(document_ids)}}
        result = self._collection.query(
            query_embeddings=[np.asarray(vector, dtype=np.float32)],
            n_results=min(k, count),
            where=where,
            include=["documents", "metadatas", "distances"],
        )
        ids, docs = result["ids"][0], result["documents"][0]
        metas, distances = result["metadatas"][0], result["distances"][0]
        return [(_chunk(i, d, m), 1.0 - float(dist)) for i, d, m, dist in zip(ids, docs, metas, distances)]

    def _exact_query(self, vector: np.ndarray, k: int, document_ids: list[str]) -> list[tuple[Chunk, float]] | None:
        """Exact cosine over the documents' cached vectors; None when they do not fit the cache."""
        parts = self._document_vectors(document_ids)
        if parts is None:
            return None
        ids = [chunk_id for part_ids, _ in parts for chunk_id in part_ids]
        if not ids:
            return []
        matrix = parts[0][1] if len(parts) == 1 else np.concatenate([m for _, m in parts])
        query = np.asarray(vector, dtype=np.float32)
        similarity = matrix @ (query / (np.linalg.norm(query) or 1.0))
        top = np.argsort(-similarity, kind="stable")[:k]
        by_id = {c.id: c for c in self.get_chunks([ids[i] for i in top])}
        return [(by_id[ids[i]], float(similarity[i])) for i in top if ids[i] in by_id]

    def _document_vectors(self, document_ids: list[str]) -> list[tuple[list[str], np.ndarray]] | None:
        """(chunk ids, unit-length vectors) per document, loading the missing ones from Chroma."""
        with self._vectors_lock:  # held while loading, so a concurrent write cannot be cached over
            parts = []
            for document_id in document_ids:
                part = self._vectors.get(document_id)
                if part is None:
                    got = self._collection.get(where={"document_id": document_id}, include=["embeddings"])
                    matrix = np.asarray(got["embeddings"], dtype=np.float32).reshape(len(got["ids"]), self.dimension)
                    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
                    part = (list(got["ids"]), matrix / np.where(norms == 0, 1.0, norms))
                    self._vectors[document_id] = part
                self._vectors.move_to_end(document_id)
                parts.append(part)
            if sum(m.nbytes for _, m in parts) > EXACT_CACHE_BYTES:  # too big to keep: Chroma's filter it is
                for document_id in document_ids:
                    self._vectors.pop(document_id, None)
                return None
            while sum(m.nbytes for _, m in self._vectors.values()) > EXACT_CACHE_BYTES:
                self._vectors.popitem(last=False)  # least recently used; this query's documents are the newest
            return parts

    def get_chunks(self, chunk_ids: list[str]) -> list[Chunk]:
        if not chunk_ids:
            return []
        got = self._collection.get(ids=list(chunk_ids), include=["documents", "metadatas"])
        by_id = {i: _chunk(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])}
        return [by_id[i] for i in chunk_ids if i in by_id]

    def first_chunks(self, document_id: str, n: int) -> list[Chunk]:
        """The document's first ``n`` chunks in reading order (its title page, for routing)."""
        got = self._collection.get(where={"$and": [{"document_id": document_id}, {"index": {"$lt": n}}]},
                                   include=["documents", "metadatas"])
        chunks = [_chunk(i, d, m) for i, d, m in zip(got["ids"], got["documents"], got["metadatas"])]
        return sorted(chunks, key=lambda c: c.index)

    def iter_chunks(self, document_id: str | None = None) -> Iterator[Chunk]:
        """Every stored chunk (optionally of one document), page by page: for rebuilding BM25."""
        where = {"document_id": document_id} if document_id else None
        offset = 0
        while True:
            got = self._collection.get(where=where, include=["documents", "metadatas"], limit=GET_PAGE, offset=offset)
            if not got["ids"]:
                return
            for i, d, m in zip(got["ids"], got["documents"], got["metadatas"]):
                yield _chunk(i, d, m)
            offset += len(got["ids"])

    def chunk_counts(self) -> dict[str, int]:
        """Chunks per document id: a full scan of the metadata, only for repairs (counts disagree)."""
        counts: dict[str, int] = {}
        offset = 0
        while True:
            got = self._collection.get(include=["metadatas"], limit=GET_PAGE, offset=offset)
            if not got["ids"]:
                return counts
            for meta in got["metadatas"]:
                counts[meta["document_id"]] = counts.get(meta["document_id"], 0) + 1
            offset += len(got["ids"])

    def document_ids(self) -> set[str]:
        return set(self.chunk_counts())
