"""Indexes of the evaluation sets, built once and reused across retrieval-only experiments.

Indexing 54 filings and 26 long reports takes most of an hour on two shared cores, while a
change to fusion or routing needs only the search. So with ``--index-cache DIR`` each
index lives in ``DIR/<side>-<set>-<key>``, where the key hashes everything that shapes
it (the PDFs, the embedding model, the source of the indexing modules, the chunk
settings); a finished index is marked ``complete`` and opened again instead of rebuilt.
Chunk embeddings are cached by text as well, so a change that leaves most chunk texts
alone (a new prefix rule for some pages) re-embeds only the chunks it changed.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.data import RetrievalSet

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parent.parent
# Modules whose code decides what lands in the index (page text, chunks, prefixes, and the
# keyword index's tokens: a tokenizer change must not reuse rows written by the old one).
INDEXING_MODULES = ("rag/pdf_loader.py", "rag/tables.py", "rag/headings.py", "rag/splitter.py",
                    "rag/text_cleaning.py", "rag/layout.py", "rag/keyword_index.py", "rag/page_roles.py")
COMPLETE = "complete"


def _digest(*parts: Any) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(repr(part).encode("utf-8") if not isinstance(part, bytes) else part)
        h.update(b"\0")
    return h.hexdigest()


def pdfs_key(pdfs: list[Path]) -> str:
    return _digest(*sorted((p.name, p.stat().st_size) for p in pdfs))


def indexing_key(settings: Any, embedder_name: str, root: Path = REPO_ROOT) -> str:
    """Everything besides the PDFs that changes what docchat stores."""
    sources = [(root / m).read_bytes() if (root / m).exists() else b"" for m in INDEXING_MODULES]
    return _digest(embedder_name, settings.chunk_tokens, settings.chunk_overlap, *sources)


class CachedEmbedder:
    """An Embedder whose document vectors are remembered by (model, text) in a SQLite file."""

    def __init__(self, inner: Any, path: Path) -> None:
        self.inner = inner
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB)")
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name: str) -> Any:  # name, dimension, max_tokens, tokenizer, device, embed_query
        return getattr(self.inner, name)

    def embed_documents(self, texts: list[str], batch_size: int = 32, progress: Any = None) -> np.ndarray:
        keys = [_digest(self.inner.name, text) for text in texts]
        found: dict[str, np.ndarray] = {}
        with self._lock:
            for start in range(0, len(keys), 500):
                part = keys[start:start + 500]
                rows = self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({','.join('?' * len(part))})",
                                        part).fetchall()
                found.update((k, np.frombuffer(v, dtype=np.float32)) for k, v in rows)
        todo = [i for i, key in enumerate(keys) if key not in found]
        self.hits += len(texts) - len(todo)
        self.misses += len(todo)
        if todo:
            vectors = self.inner.embed_documents([texts[i] for i in todo], batch_size, progress)
            with self._lock:
                self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?)",
                                     [(keys[i], np.asarray(v, dtype=np.float32).tobytes())
                                      for i, v in zip(todo, vectors)])
                self._db.commit()
            found.update((keys[i], np.asarray(v, dtype=np.float32)) for i, v in zip(todo, vectors))
        if not texts:
            return np.zeros((0, self.inner.dimension), dtype=np.float32)
        return np.stack([found[key] for key in keys])


def docchat_index(bench: Any, rset: RetrievalSet, cache_root: Path | None) -> Any:
    """A KnowledgeBase with every PDF of ``rset``, from the cache when a complete one exists.

    ``bench`` is a ``bench.harness.Bench`` (its embedder and settings; not imported here:
    the harness imports this module)."""
    from rag.knowledge_base import KnowledgeBase
    from storage.db import Database
    from storage.documents import DocumentRegistry

    root = cache_root or bench.work_dir
    probe = bench.settings(root / "probe")
    embedder = bench.embedder
    if cache_root is not None:
        embedder = CachedEmbedder(bench.embedder, cache_root / "embeddings.sqlite")
    key = _digest(pdfs_key(rset.pdfs), indexing_key(probe, bench.embedder.name))[:12]
    data_dir = root / f"docchat-{rset.name}-{key}"
    if not (data_dir / COMPLETE).exists():
        shutil.rmtree(data_dir, ignore_errors=True)
    settings = bench.settings(data_dir)
    kb = KnowledgeBase(settings, DocumentRegistry(Database(settings.db_path)), embedder)
    if (data_dir / COMPLETE).exists():
        log.info("docchat index of %s reused from %s", rset.name, data_dir)
        return kb
    start = time.perf_counter()
    for i, pdf in enumerate(rset.pdfs, start=1):
        result = kb.add_file(pdf, pdf.name)
        log.info("docchat %s %d/%d %s: %s, %d pages, %d chunks", rset.name, i, len(rset.pdfs), pdf.name,
                 result.status, result.pages, result.chunks)
    (data_dir / COMPLETE).write_text(f"{time.perf_counter() - start:.1f}\n")
    if isinstance(embedder, CachedEmbedder):
        log.info("embedding cache: %d hits, %d misses", embedder.hits, embedder.misses)
    return kb


def recipe_index(bench: Any, rset: RetrievalSet, cache_root: Path | None) -> Any:
    """The seed-004 recipe's Chroma over ``rset``, from the cache when a complete one exists."""
    from bench.recipe import RecipeIndex

    root = cache_root or bench.work_dir
    persist = root / f"recipe-{rset.name}-{pdfs_key(rset.pdfs)[:12]}"
    index = RecipeIndex(bench.recipe_embeddings, persist)
    if (persist / COMPLETE).exists():
        from langchain_chroma import Chroma

        index.db = Chroma(persist_directory=str(persist), embedding_function=bench.recipe_embeddings)
        log.info("recipe index of %s reused from %s", rset.name, persist)
        return index
    shutil.rmtree(persist, ignore_errors=True)
    stats = index.build(rset.pdfs)
    (persist / COMPLETE).write_text(f"{stats.seconds:.1f}\n")
    return index
