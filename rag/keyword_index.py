"""BM25 keyword index (bm25s) that understands Chinese (jieba) and English, kept beside Chroma.

What is persisted are the *tokens* of every chunk, one JSON file per document under
``bm25_dir/<scope>/``; the bm25s index itself is rebuilt in memory from them (fast: it
is a sparse matrix build) after every add/delete and on start. Tokenizing is the slow
part (jieba), so it happens once per chunk, at ingestion. If the files are lost or
disagree with Chroma, ``sync_with`` re-tokenizes the chunks stored in Chroma.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from functools import lru_cache
from pathlib import Path
from typing import Iterable

import numpy as np

from rag.types import Chunk

logger = logging.getLogger(__name__)

_CJK_RUN = re.compile(r"([\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+)")
_WORD = re.compile(r"[^\W_]+")
_LONE_LETTER = re.compile(r"[a-z]")  # "s" of "Adobe's": noise


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_CHINESE, STOPWORDS_EN

    return frozenset(STOPWORDS_EN) | frozenset(STOPWORDS_CHINESE)


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    return jieba


def tokenize(text: str) -> list[str]:
    """Chinese runs cut by jieba (search mode: words and their parts), other text as lowercased words."""
    tokens: list[str] = []
    stop = _stopwords()
    for i, part in enumerate(_CJK_RUN.split(text)):
        if not part:
            continue
        if i % 2:  # a CJK run (split keeps the captured runs at odd positions)
            tokens.extend(t for t in _jieba().lcut_for_search(part) if t.strip() and t not in stop)
        else:
            tokens.extend(w for w in _WORD.findall(part.lower()) if w not in stop and not _LONE_LETTER.fullmatch(w))
    return tokens


def _safe_name(document_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", document_id) + ".json"


class BM25Index:
    """Keyword index of one owner scope; thread-safe (writes rebuild and swap the index)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._lock = threading.RLock()
        # document_id -> list of (chunk_id, tokens)
        self._docs: dict[str, list[tuple[str, list[str]]]] = {}
        self._ids: list[str] = []
        self._doc_of: np.ndarray = np.zeros(0, dtype=object)
        self._bm25 = None
        self._load()

    # --- persistence -------------------------------------------------------------
    def _load(self) -> None:
        if not self.directory.is_dir():
            return
        for path in sorted(self.directory.glob("*.json")):
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                self._docs[data["document_id"]] = [(c["id"], c["tokens"]) for c in data["chunks"]]
            except (OSError, ValueError, KeyError, TypeError) as exc:
                logger.warning("ignoring unreadable BM25 file %s (%s); it will be rebuilt", path, exc)
        self._rebuild()

    def _write(self, document_id: str, entries: list[tuple[str, list[str]]]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        target = self.directory / _safe_name(document_id)
        tmp = target.with_suffix(".tmp")
        payload = {"document_id": document_id, "chunks": [{"id": i, "tokens": t} for i, t in entries]}
        tmp.write_text(json.dumps(payload, ensure_ascii=False), encoding="utf-8")
        os.replace(tmp, target)

    def _rebuild(self) -> None:
        """Build the bm25s index from the stored tokens (a few hundred ms at 10k chunks)."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)  # it logs every index build at DEBUG
        ids: list[str] = []
        owners: list[str] = []
        corpus: list[list[str]] = []
        for document_id, entries in self._docs.items():
            for chunk_id, tokens in entries:
                ids.append(chunk_id)
                owners.append(document_id)
                corpus.append(tokens)
        if not corpus:
            self._bm25, self._ids, self._doc_of = None, [], np.zeros(0, dtype=object)
            return
        index = bm25s.BM25()
        index.index(corpus, show_progress=False)
        self._bm25, self._ids, self._doc_of = index, ids, np.array(owners, dtype=object)

    # --- writes ------------------------------------------------------------------
    def add(self, chunks: list[Chunk]) -> None:
        """Add (or replace) documents' chunks; chunks of several documents are grouped."""
        grouped: dict[str, list[tuple[str, list[str]]]] = {}
        for chunk in chunks:
            grouped.setdefault(chunk.document_id, []).append((chunk.id, tokenize(chunk.text)))
        with self._lock:
            for document_id, entries in grouped.items():
                self._write(document_id, entries)
                self._docs[document_id] = entries
            self._rebuild()

    def delete_document(self, document_id: str) -> None:
        with self._lock:
            (self.directory / _safe_name(document_id)).unlink(missing_ok=True)
            if self._docs.pop(document_id, None) is not None:
                self._rebuild()

    # --- reads -------------------------------------------------------------------
    def document_ids(self) -> set[str]:
        return set(self._docs)

    def count(self) -> int:
        return sum(len(entries) for entries in self._docs.values())

    def query(self, text: str, k: int, document_ids: Iterable[str] | None = None) -> list[tuple[str, float]]:
        """The ``k`` best (chunk_id, BM25 score) with a positive score, best first."""
        tokens = tokenize(text)
        bm25, ids, doc_of = self._bm25, self._ids, self._doc_of  # one consistent snapshot
        if bm25 is None or not tokens or k <= 0:
            return []
        scores = bm25.get_scores(tokens)
        if document_ids is not None:
            scores = np.where(np.isin(doc_of, list(document_ids)), scores, 0.0)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(ids[i], float(scores[i])) for i in top if scores[i] > 0]

    # --- consistency with Chroma --------------------------------------------------
    def sync_with(self, store) -> bool:
        """Make the index hold exactly the documents ``store`` (a ChromaStore) holds.

        Returns True when something had to be rebuilt. Documents whose chunk count
        differs are re-tokenized from Chroma's stored texts.
        """
        chroma_counts = store.chunk_counts()
        with self._lock:
            stale = [d for d in self._docs if d not in chroma_counts]
            missing = [d for d, n in chroma_counts.items() if len(self._docs.get(d, ())) != n]
            if not stale and not missing:
                return False
            logger.info("BM25 index out of step with Chroma: rebuilding %d document(s), dropping %d",
                        len(missing), len(stale))
            for document_id in stale:
                (self.directory / _safe_name(document_id)).unlink(missing_ok=True)
                self._docs.pop(document_id, None)
            for document_id in missing:
                entries = [(c.id, tokenize(c.text)) for c in store.iter_chunks(document_id)]
                self._write(document_id, entries)
                self._docs[document_id] = entries
            self._rebuild()
            return True
