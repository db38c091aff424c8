"""PDF loading, splitting, embeddings, vector + keyword index, retrieval, condensing, the turn pipeline."""
