"""Documents over HTTP: bad files fail alone, unknown ids and empty uploads are refused.

In-process (``app_client`` of tests/api/conftest.py: the real app, PDF parsing, storage
and embedder). The whole upload → search → chat with sources → delete path on the real
server is test_documents_live.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.api.conftest import assert_error_shape
from tests.pdfs import make_broken_pdfs, make_pdf


def upload(client: httpx.Client, *files: tuple[str, bytes]) -> httpx.Response:
    return client.post("/api/documents", files=[("files", (name, data, "application/pdf")) for name, data in files])


def test_each_file_succeeds_or_fails_alone(app_client: httpx.Client, tmp_path: Path) -> None:
    good = make_pdf(tmp_path / "good.pdf", ["A page about kites and the wind."])
    broken = make_broken_pdfs(tmp_path / "broken")
    response = upload(
        app_client,
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


def test_unknown_document_delete_is_404(app_client: httpx.Client) -> None:
    assert_error_shape(app_client.delete("/api/documents/not-a-document"), 404)


def test_upload_without_files_is_rejected(app_client: httpx.Client) -> None:
    response = app_client.post("/api/documents", data={"something": "else"})
    assert 400 <= response.status_code < 500
    assert "error" in response.json()
