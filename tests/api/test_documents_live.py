"""Documents on the real server (``python app.py``, the bundled models): upload → search →
chat with sources → delete, over HTTP. The refusals and per-file failures of
/api/documents are checked in-process in test_document_routes.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.conftest import assert_error_shape
from tests.pdfs import make_pdf

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
