"""Document embedding: length-sorted batches still return rows in input order."""

from __future__ import annotations

import numpy as np


def test_embed_documents_keeps_input_order_across_length_sorted_batches(embedder):
    texts = ["Tea grows on hills and is picked by hand in spring. " * 6, "Short.", "汉服是汉族的传统服饰。",
             "Revenue was five million dollars in 2023. " * 3, "A", "The river changed the town over many years."]
    batched = embedder.embed_documents(texts, batch_size=2)
    one_by_one = np.vstack([embedder.embed_query(t) for t in texts])

    assert batched.shape == (len(texts), embedder.dimension)
    assert np.allclose(batched, one_by_one, atol=1e-4)


def test_queries_and_passages_get_the_prompts_a_model_ships(embedder):
    """EmbeddingGemma ships "task: search result | query: " and "title: none | text: ";
    here the bundled MiniLM is given two prompts to show each side gets its own."""
    saved = dict(embedder.model.prompts)
    embedder.model.prompts = {"query": "query: ", "document": "passage: "}
    try:
        query = embedder.embed_query("green tea temperature")
        [passage] = embedder.embed_documents(["green tea temperature"])
        raw = embedder.model.encode(["query: green tea temperature", "passage: green tea temperature"],
                                    normalize_embeddings=True)
    finally:
        embedder.model.prompts = saved
    assert np.allclose(query, raw[0], atol=1e-5) and np.allclose(passage, raw[1], atol=1e-5)
    assert not np.allclose(query, passage, atol=1e-3)
