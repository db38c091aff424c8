"""ChromaStore on a real embedded Chroma: filtered queries scored exactly over cached vectors.

Vectors are synthetic unit vectors so each test knows the true nearest chunks.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import rag.vector_store as vector_store
from rag.types import Chunk
from rag.vector_store import ChromaStore

DIM = 16


def _chunks(document_id: str, n: int) -> list[Chunk]:
    return [Chunk(f"{document_id}:{i}", document_id, f"{document_id}.pdf", i + 1, i + 1, i, f"text {document_id} {i}")
            for i in range(n)]


def _unit(rows: int, seed: int) -> np.ndarray:
    m = np.random.default_rng(seed).standard_normal((rows, DIM)).astype(np.float32)
    return m / np.linalg.norm(m, axis=1, keepdims=True)


@pytest.fixture
def store(tmp_path: Path) -> ChromaStore:
    s = ChromaStore(tmp_path / "chroma", "test-model", DIM)
    for seed, doc in enumerate(("a", "b", "c", "d")):
        s.add(_chunks(doc, 30), _unit(30, seed))
    return s


def _truth(store: ChromaStore, query: np.ndarray, documents: list[str], k: int) -> list[str]:
    got = store._collection.get(where={"document_id": {"$in": documents}}, include=["embeddings"])
    matrix = np.asarray(got["embeddings"], dtype=np.float32)
    order = np.argsort(-(matrix @ query))[:k]
    return [got["ids"][i] for i in order]


def test_filtered_query_returns_the_exact_nearest_chunks_of_the_chosen_documents(store):
    for seed in range(5):
        query = _unit(1, 100 + seed)[0]
        found = store.query(query, 7, ["b", "d"])
        assert [c.id for c, _ in found] == _truth(store, query, ["b", "d"], 7)
        assert {c.document_id for c, _ in found} <= {"b", "d"}
        best, score = found[0]
        assert score == pytest.approx(float(_unit(30, 1 if best.document_id == "b" else 3)[best.index] @ query), abs=1e-5)
        assert best.text == f"text {best.document_id} {best.index}" and best.page == best.index + 1


def test_agrees_with_chromas_own_filter(store, monkeypatch):
    query = _unit(1, 7)[0]
    exact = [c.id for c, _ in store.query(query, 5, ["a", "c"])]
    monkeypatch.setattr(vector_store, "EXACT_MAX_DOCUMENTS", 0)  # force Chroma's metadata filter
    assert [c.id for c, _ in store.query(query, 5, ["a", "c"])] == exact


def test_vectors_are_loaded_once_then_served_from_the_cache(store, monkeypatch):
    calls = []
    real_get = store._collection.get

    def counting_get(*args, **kwargs):
        calls.append(kwargs.get("where"))
        return real_get(*args, **kwargs)

    monkeypatch.setattr(store._collection, "get", counting_get)
    store.query(_unit(1, 1)[0], 5, ["a"])
    store.query(_unit(1, 2)[0], 5, ["a"])
    assert [w for w in calls if w is not None] == [{"document_id": "a"}]


def test_a_write_or_delete_after_caching_is_seen_by_the_next_query(store):
    query = _unit(1, 9)[0]
    store.query(query, 3, ["a", "b"])  # caches a and b
    store.add(_chunks("a", 1), query[None, :])  # a:0 now points exactly at the query
    found = store.query(query, 3, ["a", "b"])
    assert found[0][0].id == "a:0" and found[0][1] == pytest.approx(1.0, abs=1e-5)
    store.delete_document("a")
    assert {c.document_id for c, _ in store.query(query, 10, ["a", "b"])} == {"b"}
    assert store.query(query, 10, ["a"]) == []


def test_documents_too_big_for_the_cache_fall_back_to_chromas_filter(store, monkeypatch):
    monkeypatch.setattr(vector_store, "EXACT_CACHE_BYTES", 30 * DIM * 4)  # room for one document
    query = _unit(1, 11)[0]
    found = store.query(query, 6, ["a", "b", "c"])
    assert [c.id for c, _ in found] == _truth(store, query, ["a", "b", "c"], 6)
    assert not store._vectors
    found = store.query(query, 6, ["b"])  # one document fits and is cached
    assert [c.id for c, _ in found] == _truth(store, query, ["b"], 6) and list(store._vectors) == ["b"]
