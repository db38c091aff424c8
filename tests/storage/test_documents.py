"""DocumentRegistry: indexing → ready | failed, duplicates, owners, recovery lookups."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from storage.db import Database
from storage.documents import DocumentExists, DocumentNotFound, DocumentRegistry

SHA = "a" * 64
OTHER_SHA = "b" * 64


def test_begin_registers_a_document_as_indexing(registry):
    document = registry.begin(SHA, "report.pdf", embedding_model="all-MiniLM-L6-v2")

    assert registry.get(SHA) == document
    assert (document.status, document.pages, document.chunks, document.error) == ("indexing", 0, 0, None)
    assert document.embedding_model == "all-MiniLM-L6-v2"
    assert document.owner == ""


def test_lifecycle_indexing_to_ready(registry):
    registry.begin(SHA, "report.pdf")
    registry.mark_ready(SHA, "", pages=12, chunks=40)

    document = registry.get(SHA)
    assert (document.status, document.pages, document.chunks) == ("ready", 12, 40)
    assert document.to_dict()["filename"] == "report.pdf"


def test_a_ready_or_indexing_document_cannot_begin_again(registry):
    registry.begin(SHA, "report.pdf")
    with pytest.raises(DocumentExists) as indexing:
        registry.begin(SHA, "copy.pdf")
    assert indexing.value.document.status == "indexing"

    registry.mark_ready(SHA, "", pages=1, chunks=1)
    with pytest.raises(DocumentExists) as ready:
        registry.begin(SHA, "copy.pdf")
    assert ready.value.document.filename == "report.pdf"


def test_a_failed_document_is_replaced_by_a_retry(registry):
    registry.begin(SHA, "scan.pdf")
    registry.mark_failed(SHA, "", "no text layer; install tesseract-ocr to read scanned PDFs")
    assert registry.get(SHA).error.startswith("no text layer")

    retry = registry.begin(SHA, "scan.pdf")

    assert (retry.status, retry.error) == ("indexing", None)
    assert registry.get(SHA).status == "indexing"


def test_mark_ready_of_a_deleted_document_raises(registry):
    registry.begin(SHA, "report.pdf")
    assert registry.delete(SHA) is True

    with pytest.raises(DocumentNotFound):
        registry.mark_ready(SHA, "", pages=1, chunks=1)
    registry.mark_failed(SHA, "", "gone")  # only logged
    assert registry.get(SHA) is None


def test_delete_reports_whether_there_was_a_row(registry):
    registry.begin(SHA, "report.pdf")
    assert registry.delete(SHA) is True
    assert registry.delete(SHA) is False
    assert registry.list() == []


def test_list_is_newest_first(registry):
    registry.begin(SHA, "first.pdf")
    registry.begin(OTHER_SHA, "second.pdf")

    assert [d.filename for d in registry.list()] == ["second.pdf", "first.pdf"]


def test_owners_have_separate_rows(registry):
    registry.begin(SHA, "shared.pdf")
    registry.begin(SHA, "alice.pdf", owner="alice")
    registry.mark_ready(SHA, "alice", pages=2, chunks=3)

    assert [d.filename for d in registry.list()] == ["shared.pdf"]
    assert [d.filename for d in registry.list("alice")] == ["alice.pdf"]
    assert registry.get(SHA, "bob") is None
    assert registry.get(SHA).status == "indexing"
    assert registry.delete(SHA, "bob") is False


def test_list_by_status_finds_interrupted_indexing_of_every_owner(registry):
    registry.begin(SHA, "a.pdf")
    registry.begin(OTHER_SHA, "b.pdf", owner="alice")
    registry.begin("c" * 64, "c.pdf")
    registry.mark_ready("c" * 64, "", pages=1, chunks=1)

    assert {(d.id, d.owner) for d in registry.list_by_status("indexing")} == {(SHA, ""), (OTHER_SHA, "alice")}
    assert [d.filename for d in registry.list_by_status("ready")] == ["c.pdf"]
    with pytest.raises(ValueError):
        registry.list_by_status("lost")


def test_the_same_file_uploaded_twice_at_once_is_indexed_once(registry):
    start = threading.Barrier(8)

    def upload(_: int) -> str:
        start.wait()
        try:
            registry.begin(SHA, "same.pdf")
            return "indexing"
        except DocumentExists:
            return "duplicate"

    with ThreadPoolExecutor(8) as pool:
        outcomes = sorted(pool.map(upload, range(8)))

    assert outcomes == ["duplicate"] * 7 + ["indexing"]


def test_registry_survives_reopening(db_path, registry, db):
    registry.begin(SHA, "report.pdf")
    registry.mark_ready(SHA, "", pages=3, chunks=9)
    db.close()

    with Database(db_path) as reopened:
        document = DocumentRegistry(reopened).get(SHA)
    assert (document.status, document.pages, document.chunks) == ("ready", 3, 9)


def test_cheap_lookups_answer_without_listing_documents(registry):
    registry.begin(SHA, "report.pdf", owner="alice")
    assert not registry.has_ready("alice") and registry.in_use(SHA)
    registry.mark_ready(SHA, "alice", pages=1, chunks=7)
    registry.begin(OTHER_SHA, "broken.pdf")
    registry.mark_failed(OTHER_SHA, "", "unreadable")
    assert registry.has_ready("alice") and not registry.has_ready("")
    assert registry.in_use(SHA) and not registry.in_use(OTHER_SHA)
    assert registry.owners() == {"", "alice"}
    assert registry.ready_chunk_counts("alice") == {SHA: 7} and registry.ready_chunk_counts("") == {}


def test_pending_deletes_are_recorded_until_cleared(registry):
    registry.note_pending_delete(SHA, "alice")
    registry.note_pending_delete(SHA, "alice")
    assert registry.pending_deletes() == [(SHA, "alice")]
    registry.clear_pending_delete(SHA, "alice")
    assert registry.pending_deletes() == []
