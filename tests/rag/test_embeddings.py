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
