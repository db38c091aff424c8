"""Parser children: reused across files, never after a kill or a crash, each file still time-limited."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.pdf_loader import load_pages
from rag.pdf_worker import ParseWorkers, PDFTooSlow
from rag.types import UnreadablePDF
from tests.pdfs import make_pdf


@pytest.fixture
def workers():
    pool = ParseWorkers()
    yield pool
    pool.close()


def test_one_child_reads_many_files(workers, tmp_path: Path):
    for n in range(3):
        pdf = make_pdf(tmp_path / f"f{n}.pdf", [f"File number {n} about lighthouses.", "Second page."])
        pages = workers.read(pdf, timeout_s=120)
        assert [p.number for p in pages] == [1, 2] and f"File number {n}" in pages[0].text
    assert workers.started == 1


def test_a_bad_file_fails_with_its_name_and_the_child_is_kept(workers, tmp_path: Path):
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 50)
    with pytest.raises(UnreadablePDF, match="^report.pdf: "):
        workers.read(broken, timeout_s=120, name="report.pdf")
    good = make_pdf(tmp_path / "good.pdf", ["Readable after a broken one."])
    assert "Readable" in workers.read(good, timeout_s=120)[0].text
    assert workers.started == 1


def test_a_child_past_its_time_limit_is_killed_and_replaced(workers, tmp_path: Path):
    pdf = make_pdf(tmp_path / "a.pdf", ["Plain text for a reader with very little time."])
    workers.read(pdf, timeout_s=120)  # a warm child
    # Eight scanned pages to OCR take seconds on any machine; a loaded one is only slower
    # (a sub-millisecond limit on a tiny text file raced a fast child, and the child won).
    scanned = make_pdf(tmp_path / "scan.pdf", ["A scanned page of plain words to recognise."] * 8, image_only=True)
    with pytest.raises(PDFTooSlow, match="took too long to read"):
        workers.read(scanned, timeout_s=0.5)
    assert "Plain text" in workers.read(pdf, timeout_s=120)[0].text
    assert workers.started == 2


def test_a_child_that_died_while_idle_is_replaced(workers, tmp_path: Path):
    pdf = make_pdf(tmp_path / "a.pdf", ["Text read before and after the child died."])
    workers.read(pdf, timeout_s=120)
    [(child, _, _)] = workers._idle
    child.kill()
    child.wait()
    assert "Text read" in workers.read(pdf, timeout_s=120)[0].text
    assert workers.started == 2


def test_a_child_retires_after_its_share_of_files(tmp_path: Path):
    pool = ParseWorkers(max_uses=2)
    try:
        pdf = make_pdf(tmp_path / "a.pdf", ["Retirement test text."])
        for _ in range(4):
            pool.read(pdf, timeout_s=120)
        assert pool.started == 2
    finally:
        pool.close()


def test_idle_children_are_stopped_after_a_while(tmp_path: Path):
    """An idle child holds a process and two pipes: it must not outlive the pool's use."""
    pool = ParseWorkers(idle_s=0.5)
    pdf = make_pdf(tmp_path / "a.pdf", ["Idle reaping text."])
    pool.read(pdf, timeout_s=120)
    [(child, _, _)] = pool._idle
    child.wait(timeout=30)  # stopped by the reaper, not by close()
    assert pool._idle == [] and child.stdin.closed


def test_a_dropped_pool_stops_its_children(tmp_path: Path):
    import gc

    pool = ParseWorkers(idle_s=3600)
    pool.read(make_pdf(tmp_path / "a.pdf", ["Dropped pool text."]), timeout_s=120)
    [(child, _, _)] = pool._idle
    del pool
    gc.collect()
    assert child.wait(timeout=30) is not None


def test_load_pages_with_a_time_limit_reads_in_the_given_workers(workers, tmp_path: Path):
    pdf = make_pdf(tmp_path / "limited.pdf", ["Read in a child process."])
    [page] = load_pages(pdf, timeout_s=120, workers=workers)
    assert "child process" in page.text and workers.started == 1


def test_a_time_limit_without_workers_is_refused(tmp_path: Path):
    pdf = make_pdf(tmp_path / "unlimited.pdf", ["No child to read me."])
    with pytest.raises(ValueError, match="timeout_s needs workers"):
        load_pages(pdf, timeout_s=120)
