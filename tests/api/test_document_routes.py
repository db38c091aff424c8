"""Documents over HTTP: upload → search → chat with sources → delete; bad files fail alone."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.conftest import assert_error_shape
from tests.pdfs import make_broken_pdfs, make_pdf

TEA_PAGES = [
    "Oolong tea is partly oxidised. The Tieguanyin oolong comes from Anxi in Fujian.",
    "Pu-erh tea is fermented and aged, sometimes for decades, in Yunnan province.",
]


@pytest.fixture
def tea_pdf(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "tea.pdf", TEA_PAGES)


def upload(http: httpx.Client, *files: tuple[str, bytes]) -> httpx.Response:
    return http.post("/api/documents", files=[("files", (name, data, "application/pdf")) for name, data in files])


def test_upload_search_chat_with_sources_then_delete(http: httpx.Client, tea_pdf: Path) -> None:
    [entry] = upload(http, ("tea.pdf", tea_pdf.read_bytes())).json()["documents"]
    assert entry["status"] in ("ready", "duplicate")
    assert entry["filename"] == "tea.pdf" and entry["pages"] == 2 and entry["chunks"] >= 1
    doc_id = entry["id"]

    listed = http.get("/api/documents").json()["documents"]
    assert {"id", "filename", "status", "pages", "chunks", "created_at"} <= set(listed[0])
    assert doc_id in [d["id"] for d in listed]

    results = http.post("/api/search", json={"query": "Where is pu-erh aged?", "k": 3, "document_ids": [doc_id]})
    hits = results.json()["results"]
    assert hits and hits[0]["document_id"] == doc_id and hits[0]["filename"] == "tea.pdf"
    assert "Yunnan" in hits[0]["text"] and hits[0]["page"] == 2
    assert isinstance(hits[0]["score"], float)

    answer = http.post(
        "/api/chat",
        json={"query": "Where does Tieguanyin come from?", "document_ids": [doc_id], "k": 2, "max_tokens": 8},
        headers={"X-User-Id": "doc-tester"},
    ).json()
    assert answer["sources"] and {s["document_id"] for s in answer["sources"]} == {doc_id}
    assert all(s["page"] in (1, 2) for s in answer["sources"])

    assert http.delete(f"/api/documents/{doc_id}").status_code == 200
    assert doc_id not in [d["id"] for d in http.get("/api/documents").json()["documents"]]
    gone = http.post("/api/search", json={"query": "pu-erh", "document_ids": [doc_id]}).json()["results"]
    assert gone == []
    assert_error_shape(http.delete(f"/api/documents/{doc_id}"), 404)


def test_each_file_succeeds_or_fails_alone(http: httpx.Client, tmp_path: Path) -> None:
    good = make_pdf(tmp_path / "good.pdf", ["A page about kites and the wind."])
    broken = make_broken_pdfs(tmp_path / "broken")
    response = upload(
        http,
        ("good.pdf", good.read_bytes()),
        ("notes.pdf", b"these bytes are not a PDF"),
        (broken["empty"].name, broken["empty"].read_bytes()),
        (broken["random"].name, broken["random"].read_bytes()),
    )
    assert response.status_code == 200
    entries = response.json()["documents"]
    assert [e["filename"] for e in entries][:2] == ["good.pdf", "notes.pdf"]
    assert entries[0]["status"] in ("ready", "duplicate")
    for bad in entries[1:]:
        assert bad["status"] == "failed" and bad["error"], bad


def test_unknown_document_delete_is_404(http: httpx.Client) -> None:
    assert_error_shape(http.delete("/api/documents/not-a-document"), 404)


def test_upload_without_files_is_rejected(http: httpx.Client) -> None:
    response = http.post("/api/documents", data={"something": "else"})
    assert 400 <= response.status_code < 500
    assert "error" in response.json()
