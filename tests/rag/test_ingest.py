"""Bulk ingestion (`python -m rag.ingest DIR`): every file tried, failures listed, re-runs resume."""

from rag import ingest
from tests.pdfs import make_broken_pdfs, make_pdf


def _library(root):
    make_pdf(root / "a" / "tea.pdf", ["Brewing green tea at eighty degrees."])
    make_pdf(root / "b" / "bike.PDF", ["Oil every link of the bicycle chain."])
    broken = make_broken_pdfs(root / "broken")
    (root / "notes.txt").write_text("not a pdf")
    return broken


def test_a_folder_is_indexed_failures_listed_and_a_rerun_skips_what_is_done(make_kb, tmp_path, monkeypatch, capsys):
    library = tmp_path / "library"
    broken = _library(library)
    kb = make_kb()
    monkeypatch.setattr(ingest, "build_knowledge_base", lambda args: kb)

    assert ingest.main([str(library)]) == 1  # some failed, the run went on
    out = capsys.readouterr().out
    assert f"2 indexed, 0 already indexed (skipped), {len(broken)} failed" in out
    for path in broken.values():
        assert f"  {path.name}: " in out.split("failed:")[1]
    assert {d.filename for d in kb.list() if d.status == "ready"} == {"tea.pdf", "bike.PDF"}
    assert kb.search("bicycle chain", k=1)[0].filename == "bike.PDF"

    embedded = []
    monkeypatch.setattr(kb.embedder, "embed_documents", lambda *a, **k: embedded.append(a) or [])
    assert ingest.main([str(library)]) == 1
    out = capsys.readouterr().out
    assert f"0 indexed, 2 already indexed (skipped), {len(broken)} failed" in out
    assert embedded == []  # skipped by hash: nothing embedded again


def test_find_pdfs_searches_folders_recursively_and_keeps_files_given(tmp_path):
    _library(tmp_path)
    extra = tmp_path / "extra.bin"
    extra.write_bytes(b"x")
    found = ingest.find_pdfs([tmp_path, extra, tmp_path / "a" / "tea.pdf"])
    names = [p.name for p in found]
    assert names[:2] == ["tea.pdf", "bike.PDF"] and "notes.txt" not in names
    assert names[-1] == "extra.bin" and names.count("tea.pdf") == 1


def test_fill_sections_from_the_shell_needs_no_pdf_paths(make_kb, tmp_path, monkeypatch, capsys):
    pdf = make_pdf(tmp_path / "acme.pdf", ["ACME CORP.\nCONSOLIDATED BALANCE SHEETS\nCash 1,200 1,100\nTotal assets 9,000 8,500"])
    kb = make_kb()
    kb.add_file(pdf)
    ids = [c.id for c in kb.document_chunks(kb.list()[0].id)]
    kb._scope("").store.set_sections({i: "" for i in ids})
    monkeypatch.setattr(ingest, "build_knowledge_base", lambda args: kb)

    assert ingest.main(["--fill-sections"]) == 0
    assert "1 document(s) given sections" in capsys.readouterr().out
    assert {c.section for c in kb.document_chunks(kb.list()[0].id)} == {"Consolidated Balance Sheets"}
