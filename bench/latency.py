"""Measurement 5: retrieval latency p50/p95 at 1k, 10k and 100k chunks, query embedding included.

Synthetic chunks (pseudo-words, random unit vectors) fill docchat's real stores — a
``ChromaStore`` (HNSW, cosine) and the SQLite FTS5 ``KeywordIndex`` — behind the real ``HybridRetriever``;
embedding 100k real chunks would take longer than the whole benchmark. Queries are real
questions, embedded per call by the bundled MiniLM, so the timing is what a user waits.
The store grows in place (1k → 10k → 100k) and is measured at each size.
"""

from __future__ import annotations

import logging
import random
import time

import numpy as np

from bench.harness import Bench
from bench.metrics import latency_summary

log = logging.getLogger(__name__)

SIZES = (1_000, 10_000, 100_000)
QUICK_SIZES = (1_000, 10_000)
WORDS_PER_CHUNK = 120
CHUNKS_PER_DOCUMENT = 1_000
QUERIES = (
    "What was the operating margin in fiscal 2022?",
    "How much cash did the company return to shareholders?",
    "Which segment had the highest revenue growth?",
    "What are the main risks related to supply chains?",
    "How many employees does the company have?",
    "What is the dividend per share declared in the quarter?",
    "Summarize the capital expenditure plans.",
    "What drove the change in gross profit?",
    "Does the company have any material litigation?",
    "What is the effective tax rate?",
)
TARGETS_MS = {10_000: 30.0, 100_000: 100.0}


def _vocabulary(rng: random.Random, size: int = 5_000) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyz"
    return ["".join(rng.choice(letters) for _ in range(rng.randint(3, 9))) for _ in range(size)]


def _synthetic_chunks(start: int, count: int, vocab: list[str], rng: random.Random) -> list:
    from rag.types import Chunk

    chunks = []
    for i in range(start, start + count):
        doc = f"synthetic-{i // CHUNKS_PER_DOCUMENT:04d}"
        text = " ".join(rng.choice(vocab) for _ in range(WORDS_PER_CHUNK))
        chunks.append(Chunk(id=f"{doc}:{i % 500 + 1}:{i}", document_id=doc, filename=f"{doc}.pdf",
                            page=i % 500 + 1, page_end=i % 500 + 1, index=i, text=text))
    return chunks


def _unit_vectors(count: int, dim: int, seed: int) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((count, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def run(bench: Bench) -> dict:
    from rag.keyword_index import KeywordIndex
    from rag.retriever import HybridRetriever
    from rag.vector_store import ChromaStore
    from storage.db import Database

    embedder = bench.embedder
    root = bench.work_dir / "latency"
    store = ChromaStore(root / "chroma", embedder.name, embedder.dimension)
    root.mkdir(parents=True, exist_ok=True)
    keywords = KeywordIndex(Database(root / "keywords.sqlite3"))
    retriever = HybridRetriever(store, keywords.scoped(""), embedder)
    rng = random.Random(0)
    vocab = _vocabulary(rng)
    repeats = 2 if bench.options.quick else 5
    sizes = QUICK_SIZES if bench.options.quick else SIZES
    for q in QUERIES:  # warm-up: first-call costs are not latency
        retriever.search(q, k=5)

    results = {}
    have = 0
    for size in sizes:
        start = time.perf_counter()
        new = _synthetic_chunks(have, size - have, vocab, rng)
        store.add(new, _unit_vectors(len(new), embedder.dimension, seed=size))
        keywords.add(new)
        build_s = time.perf_counter() - start
        have = size
        totals, embeds = [], []
        for _ in range(repeats):
            for q in QUERIES:
                t0 = time.perf_counter()
                embedder.embed_query(q)
                embeds.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                retriever.search(q, k=5)
                totals.append(time.perf_counter() - t0)
        summary = latency_summary(totals)
        summary["embed_p50_ms"] = latency_summary(embeds)["p50_ms"]
        summary["build_s"] = build_s
        target = TARGETS_MS.get(size)
        summary["target_p50_ms"] = target
        summary["met"] = None if target is None else summary["p50_ms"] <= target
        results[str(size)] = summary
        log.info("latency at %d chunks: %s", size, summary)
    return {"sizes": results, "queries_per_size": repeats * len(QUERIES)}
