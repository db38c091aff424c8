"""The knowledge base end to end: real PDFs, real Chroma, real SQLite (registry + FTS5 keywords)."""

import json

import pytest

from rag.keyword_index import KeywordIndex
from rag.knowledge_base import INTERRUPTED
from rag.vector_store import SHARED_COLLECTION, ChromaStore
from tests.pdfs import make_broken_pdfs, make_pdf


def _chroma(kb) -> ChromaStore:
    """The shared collection as the knowledge base sees it (embedded, or on its Chroma server)."""
    return ChromaStore(kb.settings.chroma_dir, kb.embedder.name, kb.embedder.dimension, url=kb.settings.chroma_url)


def _top_page(kb, query, **kwargs):
    [best, *_] = kb.search(query, k=3, **kwargs)
    return best.filename, best.page


def test_search_finds_the_right_page_in_english_and_chinese(make_kb, english_pdf, chinese_pdf):
    kb = make_kb()
    stages = []
    english = kb.add_file(english_pdf, "household.pdf", progress=lambda s, d, t: stages.append(s))
    chinese = kb.add_file(chinese_pdf, "文化.pdf")
    assert (english.status, english.pages, chinese.status, chinese.pages) == ("ready", 3, "ready", 3)
    assert {"reading pages", "embedding"} <= set(stages)
    assert _top_page(kb, "how do I oil my bicycle chain?") == ("household.pdf", 2)
    assert _top_page(kb, "熊猫吃什么？") == ("文化.pdf", 3)
    assert _top_page(kb, "穿汉服的第二步是什么") == ("文化.pdf", 1)
    assert kb.has_documents()


def test_phrasings_join_the_fusion_at_their_weight_within_the_named_documents(make_kb, english_pdf, chinese_pdf,
                                                                                tmp_path):
    kb = make_kb()
    kb.add_file(english_pdf, "household.pdf")
    kb.add_file(chinese_pdf, "文化.pdf")
    kb.add_file(make_pdf(tmp_path / "garden.pdf", ["Tomatoes need stakes and sun."]), "garden.pdf")
    pages = lambda *a, **kw: [(s.filename, s.page) for s in kb.search(*a, k=2, **kw)]  # noqa: E731
    question = "how do I oil my bicycle chain?"
    assert pages(question, phrasings=["熊猫吃什么？"], phrasing_weight=0.0) == pages(question)  # no say at 0
    assert pages("熊猫", phrasings=["熊猫吃什么？"], phrasing_weight=1.0)[0] == ("文化.pdf", 3)
    # a question naming a document: the phrasings search that document only
    panda = ("文化.pdf", 3)
    assert panda in pages(question, phrasings=["熊猫吃什么？"], phrasing_weight=2.0)
    assert panda not in pages("In Household, " + question, phrasings=["熊猫吃什么？"], phrasing_weight=2.0)


def test_search_can_be_restricted_to_chosen_documents(make_kb, english_pdf, chinese_pdf):
    kb = make_kb()
    kb.add_file(english_pdf)
    chinese = kb.add_file(chinese_pdf)
    results = kb.search("bicycle chain", k=5, document_ids=[chinese.id])
    assert results and {r.document_id for r in results} == {chinese.id}


def test_delete_leaves_no_trace(make_kb, english_pdf, chinese_pdf):
    kb = make_kb()
    doc = kb.add_file(english_pdf)
    kb.add_file(chinese_pdf)
    settings = kb.settings
    assert kb.delete(doc.id)
    assert doc.id not in {d.id for d in kb.list()}
    assert doc.id not in _chroma(kb).document_ids()
    assert doc.id not in KeywordIndex(kb.registry.db).document_ids()
    assert not (settings.files_dir / f"{doc.id}.pdf").exists()
    assert all(r.document_id != doc.id for r in kb.search("bicycle chain", k=5))
    assert not kb.delete(doc.id)


def test_same_bytes_again_is_a_duplicate(make_kb, english_pdf):
    kb = make_kb()
    first = kb.add_file(english_pdf, "household.pdf")
    again = kb.add_bytes(english_pdf.read_bytes(), "renamed.pdf")
    assert (again.status, again.id, again.chunks) == ("duplicate", first.id, first.chunks)
    assert len(kb.list()) == 1
    assert (kb.settings.files_dir / f"{first.id}.pdf").read_bytes() == english_pdf.read_bytes()


def test_restart_keeps_everything(make_kb, english_pdf, tmp_path):
    kb = make_kb()
    doc = kb.add_file(english_pdf)
    restarted = make_kb(tmp_path / "data")
    restarted.recover()
    assert [(d.id, d.status) for d in restarted.list()] == [(doc.id, "ready")]
    assert _top_page(restarted, "tomatoes need sun") == ("household.pdf", 3)


def test_aes_encrypted_pdf_with_empty_password_is_indexed(make_kb, tmp_path):
    pdf = make_pdf(tmp_path / "filing.pdf", ["Annual report. Net revenue was 42 million dollars."], password="")
    result = make_kb().add_file(pdf)
    assert (result.status, result.error) == ("ready", None)


def test_password_protected_pdf_fails_with_a_clear_error(make_kb, tmp_path):
    pdf = make_pdf(tmp_path / "secret.pdf", ["top secret"], password="s3cret")
    kb = make_kb()
    result = kb.add_file(pdf)
    assert result.status == "failed" and "password" in result.error
    assert [(d.status, d.error) for d in kb.list()] == [("failed", result.error)]


def test_broken_files_fail_alone(make_kb, tmp_path, english_pdf):
    kb = make_kb()
    results = [kb.add_file(path) for path in make_broken_pdfs(tmp_path / "broken").values()]
    assert [r.status for r in results] == ["failed", "failed", "failed"]
    assert all(r.error for r in results)
    assert kb.add_file(english_pdf).status == "ready"


def test_image_only_pdf_is_ocred(make_kb, tmp_path):
    pdf = make_pdf(tmp_path / "scan.pdf", ["The warehouse in Rotterdam stores 900 pallets of coffee."],
                   image_only=True)
    kb = make_kb()
    assert kb.add_file(pdf).status == "ready"
    [best, *_] = kb.search("Rotterdam warehouse coffee pallets", k=1)
    assert "Rotterdam" in best.text


def test_image_only_pdf_without_ocr_fails_with_the_install_hint(make_kb, tmp_path, monkeypatch):
    # PDFs are parsed in a worker process: hide tesseract from it as on a bare install
    monkeypatch.setenv("PATH", "/nonexistent")
    pdf = make_pdf(tmp_path / "scan.pdf", ["The warehouse in Rotterdam"], image_only=True)
    result = make_kb().add_file(pdf)
    assert result.status == "failed"
    assert "no text layer; install tesseract-ocr to read scanned PDFs" in result.error


def test_keywords_are_reindexed_from_chroma_when_their_rows_are_lost(make_kb, english_pdf, tmp_path):
    kb = make_kb()
    doc = kb.add_file(english_pdf)
    kb.keywords.delete_document(doc.id)
    assert kb.keywords.search("bicycle chain", 1) == []
    restarted = make_kb(tmp_path / "data")
    restarted.recover()
    assert restarted.keywords.chunk_counts() == {doc.id: doc.chunks}
    assert restarted.keywords.search("bicycle chain", 1)[0][0].startswith(f"{doc.id}:2:")


def test_a_data_dir_of_the_previous_version_is_migrated(make_kb, english_pdf, tmp_path):
    """The previous version kept tokens in data_dir/bm25/<collection>/<doc>.json."""
    kb = make_kb()
    doc = kb.add_file(english_pdf)
    rows = kb.registry.db.query("SELECT chunk_id, tokens FROM keyword_chunks ORDER BY rowid")
    legacy = kb.settings.bm25_dir / SHARED_COLLECTION
    legacy.mkdir(parents=True)
    (legacy / f"{doc.id}.json").write_text(json.dumps({"document_id": doc.id, "chunks": [
        {"id": r["chunk_id"], "tokens": r["tokens"].split()} for r in rows]}), encoding="utf-8")
    kb.keywords.delete_document(doc.id)
    restarted = make_kb(tmp_path / "data")
    assert not kb.settings.bm25_dir.exists()
    assert restarted.keywords.chunk_counts() == {doc.id: doc.chunks}
    assert _top_page(restarted, "bicycle chain oil") == ("household.pdf", 2)


def test_recover_fails_out_interrupted_documents_and_removes_orphans(make_kb, english_pdf, chinese_pdf, tmp_path):
    kb = make_kb()
    doc = kb.add_file(english_pdf)
    orphan = kb.add_file(chinese_pdf)
    # Simulate a crash mid-indexing for `doc` and a registry row lost for `orphan`.
    kb.registry.delete(doc.id)
    kb.registry.begin(doc.id, "household.pdf")
    kb.registry.delete(orphan.id)
    restarted = make_kb(tmp_path / "data")
    restarted.recover()
    assert [(d.id, d.status, d.error) for d in restarted.list()] == [(doc.id, "failed", INTERRUPTED)]
    assert _chroma(kb).document_ids() == set()
    assert restarted.keywords.document_ids() == set()
    assert restarted.search("bicycle", k=3) == []
    assert restarted.add_file(english_pdf).status == "ready"


def test_private_documents_are_separate_per_owner(make_kb, english_pdf):
    kb = make_kb(private_docs=True)
    kb.add_file(english_pdf, owner="alice")
    assert kb.search("bicycle chain", k=3, owner="alice")
    assert kb.search("bicycle chain", k=3, owner="bob") == []
    assert [d.filename for d in kb.list(owner="bob")] == []


def test_keywords_and_chroma_agree_after_add_delete_and_restart(make_kb, english_pdf, chinese_pdf, tmp_path):
    kb = make_kb()
    english, chinese = kb.add_file(english_pdf), kb.add_file(chinese_pdf)
    store = _chroma(kb)
    assert kb.keywords.chunk_counts() == store.chunk_counts() == {english.id: english.chunks,
                                                                   chinese.id: chinese.chunks}
    kb.delete(english.id)
    assert kb.keywords.chunk_counts() == store.chunk_counts() == {chinese.id: chinese.chunks}
    restarted = make_kb(tmp_path / "data")
    restarted.recover()
    assert restarted.keywords.chunk_counts() == store.chunk_counts() == {chinese.id: chinese.chunks}


def test_a_delete_cut_short_before_chroma_is_finished_at_start(make_kb, english_pdf, tmp_path, monkeypatch):
    kb = make_kb()
    doc = kb.add_file(english_pdf)
    monkeypatch.setattr(ChromaStore, "delete_document", lambda self, document_id: (_ for _ in ()).throw(
        KeyboardInterrupt("killed")))
    with pytest.raises(KeyboardInterrupt):
        kb.delete(doc.id)
    monkeypatch.undo()
    assert kb.keywords.document_ids() == set()
    restarted = make_kb(tmp_path / "data")
    restarted.recover()
    store = _chroma(kb)
    assert store.chunk_counts() == {} and restarted.registry.pending_deletes() == []
