"""The reranker's wiring: candidates widened to 30 pages, re-ordered by the scorer, best k kept.

No cross-encoder is bundled in any wheel we install and the Hub is unreachable here, so the
scorer is a stand-in with the CrossEncoder ``predict`` interface; the retrieval around it
is real (bundled embedder, Chroma, BM25)."""

from rag.knowledge_base import KnowledgeBase
from llm.model_paths import ModelChoice
from rag.reranker import CrossEncoderReranker, EmbeddingReranker, make_reranker, resolve_reranker
from rag.retriever import RERANK_CANDIDATES
from rag.types import Source
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


QUESTION = "How do I keep my bicycle chain from rusting?"
PASSAGES = ["Tea is grown on the hillsides of Assam and picked by hand.",
            "Glaciers move slowly down mountain valleys.",
            "Oil the chain of your bike after riding in the rain so it does not corrode.",
            "Bread dough rises when yeast ferments its sugars.",
            "Violins were once strung with gut."]


def _candidates() -> list[Source]:
    """The hybrid search's order: the passage that answers (no word of the question in it) third."""
    return [Source(document_id="d", filename="notes.pdf", page=i, text=text, score=1.0 / (60 + i), chunk_id=f"c{i}")
            for i, text in enumerate(PASSAGES, start=1)]


class CountingEmbedder:
    """The bundled MiniLM, counting the passages it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.name, self.texts = inner, inner.name, []

    def embed_documents(self, texts, batch_size=32, progress=None):
        self.texts += list(texts)
        return self.inner.embed_documents(texts, batch_size)

    def embed_query(self, text):
        return self.inner.embed_query(text)


def test_embedding_reranker_fuses_its_order_with_the_search_and_embeds_a_chunk_once(embedder):
    counting = CountingEmbedder(embedder)
    reranker = EmbeddingReranker(counting, weight=2.0)
    ranked = reranker.rerank(QUESTION, _candidates())
    assert ranked[0].page == 3  # the embedder's first, lifted over the search's first two
    assert sorted(s.page for s in ranked) == [1, 2, 3, 4, 5]
    assert ranked[0].score > ranked[1].score
    assert len(counting.texts) == 5
    again = reranker.rerank(QUESTION, _candidates()[:4] + [
        Source(document_id="d", filename="notes.pdf", page=9, text="Kites need wind.", score=0.01, chunk_id="c9")])
    assert again[0].page == 3
    assert counting.texts[5:] == ["Kites need wind."]  # only the chunk it had not seen
    # weight 0: the embedder has no say, the search's order stands
    assert [s.page for s in EmbeddingReranker(counting, weight=0.0).rerank(QUESTION, _candidates())] == [1, 2, 3, 4, 5]


def test_embedding_reranker_keeps_at_most_cache_size_vectors(embedder):
    reranker = EmbeddingReranker(embedder, cache_size=3)
    reranker.rerank(QUESTION, _candidates())
    assert len(reranker._vectors) == 3
    assert reranker.embedded == 5


def test_a_bundled_embedder_name_makes_an_embedding_reranker(monkeypatch, embedder):
    """``DOCCHAT_RERANKER_MODEL=embeddinggemma`` wires the assembled embedder in (resolved to the
    bundled MiniLM here: assembling EmbeddingGemma is tests/llm's concern)."""
    asked = []

    def resolve(setting, device):
        asked.append(setting)
        return ModelChoice(embedder.source, None, "cpu", None, "test")

    monkeypatch.setattr("llm.model_paths.resolve_embedding_model", resolve)
    reranker = make_reranker(" EmbeddingGemma ", "cpu")
    assert isinstance(reranker, EmbeddingReranker) and asked == ["embeddinggemma"]
    reranker.rerank(QUESTION, _candidates())
    assert reranker.embedded == 5
