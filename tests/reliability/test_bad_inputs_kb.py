"""Issue 7 §1 through the Python path: every bad input gets a clear per-file status from
``KnowledgeBase.add_bytes``, nothing raises, and documents already indexed stay intact."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from tests.reliability.consistency import disagreements, stored_files
from tests.reliability.inputs import HOSTILE_NAMES, bad_inputs, one_page_pdf

GOOD_TEXT = "The lighthouse keeper polishes the brass lens every Sunday at dawn."


@pytest.fixture
def kb_with_good_doc(make_kb, tmp_path: Path):
    kb = make_kb()
    good = kb.add_bytes(one_page_pdf(tmp_path / "src", GOOD_TEXT, "good.pdf"), "good.pdf")
    assert good.status == "ready"
    return kb, good


@pytest.fixture
def cases(tmp_path: Path, ocr_on: bool):
    return {case.name: case for case in bad_inputs(tmp_path / "inputs")}


CASE_NAMES = ["empty", "random_bytes", "zip_named_pdf", "truncated", "password", "aes_empty_password",
              "image_only", "odd_unicode"]


@pytest.mark.parametrize("name", CASE_NAMES)
def test_bad_input_gets_a_clear_status_and_leaves_other_documents_alone(name, cases, kb_with_good_doc):
    kb, good = kb_with_good_doc
    case = cases[name]

    result = kb.add_bytes(case.data, case.filename)

    assert result.status == case.status, result.error
    if case.status == "failed":
        assert result.error and result.error.startswith(case.filename), result.error
        assert "Traceback" not in result.error
        if case.message:
            assert case.message in result.error.lower()
        assert not (kb.settings.files_dir / f"{result.id}.pdf").exists()  # a failed upload keeps no file
    else:
        assert result.chunks > 0
    docs = {d.id: d for d in kb.list()}
    assert docs[good.id].status == "ready" and docs[good.id].chunks == good.chunks
    assert kb.search("lighthouse keeper brass lens", k=1)[0].document_id == good.id
    assert not disagreements(kb.settings.data_dir)


def test_failed_status_is_listed_with_its_message(cases, make_kb):
    kb = make_kb()
    result = kb.add_bytes(cases["password"].data, "locked.pdf")
    listed = {d.id: d for d in kb.list()}[result.id]
    assert listed.status == "failed"
    assert "password" in listed.error


def test_image_only_pdf_without_ocr_says_no_text_layer(cases, make_kb, monkeypatch):
    monkeypatch.setenv("PATH", "/nonexistent")  # tesseract cannot be found, as on a bare install
    kb = make_kb()
    result = kb.add_bytes(cases["image_only"].data, "scan.pdf")
    assert result.status == "failed"
    assert "no text layer" in result.error and "tesseract" in result.error


def test_odd_unicode_is_normalized_and_searchable(cases, make_kb):
    kb = make_kb()
    result = kb.add_bytes(cases["odd_unicode"].data, "unicode.pdf")
    assert result.status == "ready"
    hits = kb.search("financial flow office significant", k=1)
    assert hits and hits[0].document_id == result.id
    text = hits[0].text
    assert "financial" in text  # the ﬁ ligature was folded to plain letters
    assert "\x00" not in text
    assert "שלום" in text or "םולש" in text  # Hebrew kept (pypdf may give visual order)


@pytest.mark.parametrize("raw_name", HOSTILE_NAMES, ids=["dotdot", "backslash", "quotes", "html", "chinese", "300chars"])
def test_hostile_file_name_is_stored_by_hash_and_shown_as_a_plain_name(raw_name, make_kb, tmp_path: Path):
    kb = make_kb()
    data = one_page_pdf(tmp_path / "src", f"Unique page for the name {len(raw_name)} {raw_name[:5]!r}.")

    result = kb.add_bytes(data, raw_name)

    assert result.status == "ready", result.error
    assert "/" not in result.filename
    assert stored_files(kb.settings.data_dir) == {f"{result.id}.pdf"}
    assert not (tmp_path / "escape.pdf").exists() and not Path("/tmp/escape.pdf").exists()
    assert {d.filename for d in kb.list()} == {result.filename}


def test_same_file_added_twice_at_the_same_moment_gives_one_ready_one_duplicate(make_kb, tmp_path: Path):
    kb = make_kb()
    data = one_page_pdf(tmp_path / "src", "Twin upload about the otter observatory and its telescopes.")
    barrier = threading.Barrier(2)
    results = []

    def add() -> None:
        barrier.wait()
        results.append(kb.add_bytes(data, "twin.pdf"))

    threads = [threading.Thread(target=add) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)

    assert sorted(r.status for r in results) == ["duplicate", "ready"]
    assert len(kb.list()) == 1 and kb.list()[0].status == "ready"
    assert not disagreements(kb.settings.data_dir)
