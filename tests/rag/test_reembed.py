"""Changing the embedding model re-embeds the stored chunks; vectors of two models never mix.

Real Chroma and SQLite in tmp dirs, two real embedders: the bundled all-MiniLM-L6-v2, and
the same network cut to its first 128 dimensions (renormalized) under another name — a
different model as far as the index can tell, with a different dimension, so a mixed or
stale vector would show in the collection's shape.
"""

from __future__ import annotations

import logging

import numpy as np
import pytest

import rag.reembed as reembed_module
from rag.embeddings import SentenceTransformerEmbedder
from rag.reembed import staging_name
from rag.splitter import embedding_text
from rag.vector_store import _client, collection_name


@pytest.fixture(scope="module")
def other_embedder():
    """MiniLM truncated to 128 dimensions, recorded as another model."""
    from llm.model_paths import bundled_embedding_dir

    embedder = SentenceTransformerEmbedder(str(bundled_embedding_dir()), name="test/minilm-128")
    embedder.model.truncate_dim = 128
    embedder.dimension = 128
    return embedder


class _Counting:
    """Passes everything to a real embedder, counting the passages it embeds; can fail after a few batches."""

    def __init__(self, inner, fail_after_calls: int | None = None) -> None:
        self.inner, self.fail_after_calls = inner, fail_after_calls
        self.embedded: list[str] = []
        self.calls = 0

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_documents(self, texts, batch_size=32, progress=None):
        if self.fail_after_calls is not None and self.calls >= self.fail_after_calls:
            raise KeyboardInterrupt("stopped mid-way")
        self.calls += 1
        self.embedded.extend(texts)
        return self.inner.embed_documents(texts, batch_size, progress)


def _stored(kb):
    collection = kb._scope("").store._collection
    got = collection.get(include=["embeddings", "documents", "metadatas"])
    return collection, got


def test_another_embedder_re_embeds_every_chunk_instead_of_mixing(make_kb, english_pdf, tmp_path,
                                                                  other_embedder, caplog):
    doc = make_kb().add_file(english_pdf)
    assert doc.status == "ready"

    counting = _Counting(other_embedder)
    with caplog.at_level(logging.INFO, logger="rag.reembed"):
        kb = make_kb(tmp_path / "data", embedder_=counting)

    collection, got = _stored(kb)
    assert collection.metadata["embedding_model"] == "test/minilm-128"
    assert collection.metadata["embedding_dimension"] == 128
    assert "reembed_complete" not in collection.metadata
    assert len(got["ids"]) == doc.chunks and len(counting.embedded) == doc.chunks
    vectors = np.asarray(got["embeddings"])
    assert vectors.shape == (doc.chunks, 128)  # every stored vector is the new model's
    chunks = {c.id: c for c in kb.document_chunks(doc.id)}
    expected = other_embedder.embed_documents([embedding_text(chunks[i]) for i in got["ids"]])
    assert np.allclose(vectors, expected, atol=1e-4)
    assert f"re-embedded {doc.chunks} chunks of docchat_shared with test/minilm-128" in caplog.text
    [best] = kb.search("how do I oil a bicycle chain", k=1)
    assert best.page == 2


def test_going_back_to_the_first_embedder_re_embeds_again(make_kb, english_pdf, tmp_path, other_embedder, embedder):
    doc = make_kb().add_file(english_pdf)
    make_kb(tmp_path / "data", embedder_=other_embedder)

    kb = make_kb(tmp_path / "data", embedder_=embedder)

    collection, got = _stored(kb)
    assert collection.metadata["embedding_model"] == embedder.name
    assert np.asarray(got["embeddings"]).shape == (doc.chunks, embedder.dimension)


def test_an_interrupted_re_embedding_resumes_where_it_stopped(make_kb, english_pdf, tmp_path, other_embedder,
                                                              monkeypatch):
    monkeypatch.setattr(reembed_module, "GET_PAGE", 1)  # one chunk per page: stop after the first
    doc = make_kb().add_file(english_pdf)
    assert doc.chunks >= 3
    with pytest.raises(KeyboardInterrupt):
        make_kb(tmp_path / "data", embedder_=_Counting(other_embedder, fail_after_calls=1))
    client = _client(tmp_path / "data" / "chroma")
    assert client.get_collection(staging_name(collection_name(None))).count() == 1
    assert client.get_collection(collection_name(None)).metadata["embedding_model"] != "test/minilm-128"

    resumed = _Counting(other_embedder)
    kb = make_kb(tmp_path / "data", embedder_=resumed)

    _, got = _stored(kb)
    assert len(resumed.embedded) == doc.chunks - 1  # the chunk embedded before the stop is kept
    assert np.asarray(got["embeddings"]).shape == (doc.chunks, 128)
    assert staging_name(collection_name(None)) not in [c.name for c in client.list_collections()]
