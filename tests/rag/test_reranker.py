"""The reranker's wiring: candidates widened to 30 pages, re-ordered by the scorer, best k kept.

No cross-encoder is bundled in any wheel we install and the Hub is unreachable here, so the
scorer is a stand-in with the CrossEncoder ``predict`` interface; the retrieval around it
is real (bundled embedder, Chroma, BM25)."""

from rag.knowledge_base import KnowledgeBase
from rag.reranker import CrossEncoderReranker, resolve_reranker
from rag.retriever import RERANK_CANDIDATES
from settings import Settings
from storage.db import Database
from storage.documents import DocumentRegistry
from tests.pdfs import make_pdf

TOPICS = ["tea", "bicycles", "tomatoes", "pandas", "violins", "glaciers", "kites", "bread"]


class FavourWord:
    """Scores a pair by whether the passage holds ``word``; records what it was asked."""

    def __init__(self, word: str) -> None:
        self.word = word
        self.calls: list[list[tuple[str, str]]] = []

    def predict(self, pairs, show_progress_bar=False):
        self.calls.append(list(pairs))
        return [1.0 if self.word in passage else 0.0 for _, passage in pairs]


def test_reranker_sees_a_wide_candidate_set_and_its_order_wins(embedder, tmp_path):
    pages = [f"Notes on {topic}. Everything a beginner should know about {topic}, page {i}."
             for i, topic in enumerate(TOPICS, start=1)]
    pages[6] = "Notes on kites. A kite needs wind; the word zephyr names a gentle west wind."
    pdf = make_pdf(tmp_path / "notes.pdf", pages)
    scorer = FavourWord("zephyr")
    settings = Settings(data_dir=tmp_path / "data")
    db = Database(settings.db_path)
    kb = KnowledgeBase(settings, DocumentRegistry(db), embedder, reranker=CrossEncoderReranker("stand-in", model=scorer))
    kb.add_file(pdf)
    results = kb.search("a beginner's notes on tea", k=2)
    assert [s.page for s in results][0] == 7  # the scorer's favourite, though the query is about tea
    assert len(results) == 2
    [pairs] = scorer.calls
    assert len(pairs) == min(RERANK_CANDIDATES, len(TOPICS))  # every page was a candidate
    assert all(query == "a beginner's notes on tea" for query, _ in pairs)
    db.close()


def test_reranker_setting_off_explicit_and_auto_without_a_cached_model(monkeypatch):
    assert resolve_reranker(None, "cpu") is None
    assert resolve_reranker("off", "cuda") is None
    assert resolve_reranker("/models/my-reranker", "cpu") == "/models/my-reranker"
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("llm.model_paths._weights_cached", lambda repo_id: False)
    assert resolve_reranker("auto", "cuda") is None
    monkeypatch.setattr("llm.model_paths._weights_cached", lambda repo_id: repo_id.startswith("maidalun"))
    assert resolve_reranker("auto", "cpu") == "maidalun1020/bce-reranker-base_v1"
