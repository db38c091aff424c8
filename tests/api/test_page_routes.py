"""Page images and PDFs over HTTP: the highlight sits on the chunk's words, 404s, access rules.

In-process (``app_client``/``start_app`` of tests/api/conftest.py): real PDFs, real
rendering, real storage and embedder; the chat answers come from the fake model.
"""

from __future__ import annotations

import io
import re
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.api.conftest import assert_error_shape, sse_json
from tests.pdfs import A4, LINE_HEIGHT, MARGIN, make_pdf

KITE_PAGES = [
    "Cover page of the kite handbook.",
    "Box kites need a steady wind of about twenty kilometres per hour to climb.",
]
WIDTH = 800


def is_yellow(pixel) -> bool:
    r, g, b = pixel[:3]
    return r > 200 and g > 170 and b < 160


def yellow_share(image: Image.Image, line: int) -> float:
    """Share of background pixels on text line ``line`` (0-based) that are highlight yellow."""
    scale = image.size[0] / A4[0]
    baseline = MARGIN + line * LINE_HEIGHT
    box = (int(60 * scale), int((baseline - 6) * scale), int(200 * scale), int((baseline - 1) * scale))
    pixels = [image.getpixel((x, y)) for x in range(box[0], box[2]) for y in range(box[1], box[3])]
    light = [p for p in pixels if sum(p[:3]) > 550]
    return sum(is_yellow(p) for p in light) / max(1, len(light))


@pytest.fixture(scope="module")
def kite(app_client: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> dict:
    pdf = make_pdf(tmp_path_factory.mktemp("kite") / "kites.pdf", KITE_PAGES)
    response = app_client.post("/api/documents", files=[("files", ("kites.pdf", pdf.read_bytes(), "application/pdf"))])
    [entry] = response.json()["documents"]
    assert entry["status"] in ("ready", "duplicate"), entry
    hits = app_client.post("/api/search", json={"query": "box kites steady wind", "k": 1,
                                          "document_ids": [entry["id"]]}).json()["results"]
    assert hits[0]["page"] == 2 and hits[0]["chunk_id"].startswith(entry["id"] + ":2:")
    return {"id": entry["id"], "chunk_id": hits[0]["chunk_id"]}


def png(response: httpx.Response) -> Image.Image:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/png"
    return Image.open(io.BytesIO(response.content)).convert("RGB")


def test_page_image_highlights_the_chunk(app_client: httpx.Client, kite: dict) -> None:
    url = f"/api/documents/{kite['id']}/pages/2"
    lit = png(app_client.get(url, params={"width": WIDTH, "chunk_id": kite["chunk_id"]}))
    plain = png(app_client.get(url, params={"width": WIDTH}))
    assert lit.size[0] == plain.size[0] == WIDTH
    assert yellow_share(lit, 0) > 0.8
    assert yellow_share(plain, 0) == 0.0
    # The same chunk asked for on another page highlights nothing there.
    other = png(app_client.get(f"/api/documents/{kite['id']}/pages/1", params={"chunk_id": kite["chunk_id"]}))
    assert yellow_share(other, 0) == 0.0


def test_width_defaults_to_about_1000_and_is_capped(app_client: httpx.Client, kite: dict) -> None:
    url = f"/api/documents/{kite['id']}/pages/1"
    assert png(app_client.get(url)).size[0] == 1000
    assert png(app_client.get(url, params={"width": 9000})).size[0] == 2000


def test_unknown_document_or_page_is_404(app_client: httpx.Client, kite: dict) -> None:
    assert_error_shape(app_client.get(f"/api/documents/{kite['id']}/pages/3"), 404)
    assert_error_shape(app_client.get(f"/api/documents/{'0' * 64}/pages/1"), 404)
    assert_error_shape(app_client.get(f"/api/documents/{'0' * 64}/file"), 404)
    assert_error_shape(app_client.get(f"/api/documents/{kite['id']}/pages/0"), 422)


def test_file_route_serves_the_original_pdf_inline(app_client: httpx.Client, kite: dict) -> None:
    response = app_client.get(f"/api/documents/{kite['id']}/file")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"].startswith("inline")
    assert response.content.startswith(b"%PDF-")


def test_a_forged_signature_is_404(app_client: httpx.Client, kite: dict) -> None:
    response = app_client.get(f"/api/documents/{kite['id']}/pages/1", params={"o": "", "sig": "0" * 64})
    assert_error_shape(response, 404)


def test_private_pages_are_404_for_another_user(start_app, tmp_path: Path) -> None:
    client = start_app(private_docs=True)
    data_dir = client.app.state.services.settings.data_dir
    pdf = make_pdf(tmp_path / "diary.pdf", ["Alice's private diary: the spare key is under the blue pot."])
    upload = client.post("/api/documents", headers={"X-User-Id": "alice"},
                         files=[("files", ("diary.pdf", pdf.read_bytes(), "application/pdf"))])
    doc_id = upload.json()["documents"][0]["id"]
    assert client.get(f"/api/documents/{doc_id}/pages/1", headers={"X-User-Id": "alice"}).status_code == 200
    assert_error_shape(client.get(f"/api/documents/{doc_id}/pages/1", headers={"X-User-Id": "bob"}), 404)
    assert_error_shape(client.get(f"/api/documents/{doc_id}/file", headers={"X-User-Id": "bob"}), 404)
    # A link signed for Alice's scope works without headers; Bob's scope cannot be forged.
    from services.page_links import link_key, page_url

    key = link_key(data_dir)
    assert client.get(page_url(key, doc_id, "alice", 1)).status_code == 200
    bob_link = page_url(key, doc_id, "alice", 1).replace("o=alice", "o=bob")
    assert_error_shape(client.get(bob_link), 404)
    # An expired link, or one whose expiry was pushed back by hand, opens nothing.
    expired = page_url(key, doc_id, "alice", 1, lifetime_s=-1)
    assert_error_shape(client.get(expired), 404)
    stretched = re.sub(r"exp=(\d+)", lambda m: f"exp={int(m.group(1)) + 10**6}", expired)
    assert_error_shape(client.get(stretched), 404)


def test_chat_sources_carry_chunk_ids_for_the_page_route_and_citation_flags(app_client: httpx.Client, kite: dict) -> None:
    body = {"query": "What wind do box kites need?", "document_ids": [kite["id"]], "k": 2, "max_tokens": 8}
    reply = app_client.post("/api/chat", json=body, headers={"X-User-Id": "kite-reader"}).json()
    for source in reply["sources"]:
        assert isinstance(source["cited"], bool) and "supported" in source and "claims" in source
        page = png(app_client.get(f"/api/documents/{source['document_id']}/pages/{source['page']}",
                            params={"chunk_id": source["chunk_id"], "width": WIDTH}))
        assert page.size[0] == WIDTH
    stored = app_client.get(f"/api/conversations/{reply['conversation_id']}/messages",
                      headers={"X-User-Id": "kite-reader"}).json()["messages"][-1]
    assert [s["chunk_id"] for s in stored["sources"]] == [s["chunk_id"] for s in reply["sources"]]

    stream = app_client.post("/api/chat", json={**body, "stream": True}, headers={"X-User-Id": "kite-reader"})
    last = sse_json(stream)[-1]
    assert last["sources"] and all(s["chunk_id"] and "cited" in s for s in last["sources"])

    completion = app_client.post("/v1/chat/completions", json={
        "model": "docchat", "messages": [{"role": "user", "content": "What wind do box kites need?"}],
        "max_tokens": 8, "use_rag": True, "document_ids": [kite["id"]]}).json()
    assert completion["sources"] and all(s["chunk_id"].startswith(kite["id"]) for s in completion["sources"])
