"""Resource limits against hostile input (issue 10, item 5), on the real server.

* A chunked upload with no Content-Length is cut off at the limit, not read to the end.
* Parsing a PDF runs in a worker process with a hard time limit: past it, that file fails
  with "took too long to read" and the server carries on.
* Concurrent API uploads are capped: beyond the running and waiting ones, 503 + Retry-After.
* Per-user rate limits on chat (and upload) when configured; other users are unaffected.
* OCR renders are capped in pixels whatever size a page claims.
"""

from __future__ import annotations

import selectors
import socket
import threading
import uuid

import httpx
import pytest

from rag.ocr import MAX_RENDER_PIXELS, RENDER_DPI, render_scale
from tests.pdfs import make_pdf

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def limited(start_server):
    return start_server(env={"DOCCHAT_MAX_UPLOAD_MB": "1", "DOCCHAT_MAX_API_UPLOADS": "1",
                             "DOCCHAT_RATE_LIMIT_PER_MINUTE": "3"})


def _readable(sock: socket.socket) -> bool:
    """Has the server answered yet? (epoll, not select(): no limit on descriptor numbers)"""
    with selectors.DefaultSelector() as selector:
        selector.register(sock, selectors.EVENT_READ)
        return bool(selector.select(timeout=0))


def _stream_chunked(port: int, path: str, total: int, piece: int = 64 * 1024) -> tuple[int, bytes]:
    """Send a chunked POST of ``total`` bytes until the server answers; (bytes sent, answer)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    boundary = "x" + uuid.uuid4().hex
    sock.sendall(
        (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nTransfer-Encoding: chunked\r\n"
         f"Content-Type: multipart/form-data; boundary={boundary}\r\nX-User-Id: chunky\r\n\r\n").encode()
    )
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.pdf\"\r\n"
            "Content-Type: application/pdf\r\n\r\n%PDF-1.4\n").encode()
    sent = 0
    payload = head + b"0" * (piece - len(head))
    try:
        while sent < total:
            readable = _readable(sock)
            if readable:
                break  # the server has answered: stop sending
            sock.sendall(f"{len(payload):x}\r\n".encode() + payload + b"\r\n")
            sent += len(payload)
            payload = b"0" * piece
    except (BrokenPipeError, ConnectionResetError):
        pass
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    finally:
        sock.close()
    return sent, answer


def test_a_chunked_upload_is_cut_off_at_the_limit(limited) -> None:
    sent, answer = _stream_chunked(limited.port, "/api/documents", total=200 * MIB)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    # The server stopped reading near the 1 MiB limit; socket buffers hold a few MiB at most.
    assert sent < 32 * MIB, sent
    assert httpx.get(f"{limited.base_url}/healthz").status_code == 200


def test_concurrent_uploads_beyond_the_queue_get_503(limited, tmp_path) -> None:
    """One indexes, one waits, the rest are told to come back later."""
    big = make_pdf(tmp_path / "slow.pdf", [f"Page {i} about indexing queues and slow embedders. " * 12
                                           for i in range(120)])
    smalls = [make_pdf(tmp_path / f"s{i}.pdf", [f"Small document {i} {uuid.uuid4().hex}"]) for i in range(4)]
    outcomes: dict[str, httpx.Response] = {}
    base = limited.base_url

    def upload(name: str, path, user: str) -> None:
        with httpx.Client(base_url=base, timeout=600) as client:
            files = [("files", (path.name, path.read_bytes(), "application/pdf"))]
            outcomes[name] = client.post("/api/documents", files=files, headers={"X-User-Id": user})

    first = threading.Thread(target=upload, args=("big", big, "uploader-big"))
    first.start()
    with httpx.Client(base_url=base, timeout=60) as client:  # wait until the big one is indexing
        while not any(d["filename"] == "slow.pdf" and d["status"] == "indexing"
                      for d in client.get("/api/documents").json()["documents"]):
            assert first.is_alive() or "big" in outcomes
            if "big" in outcomes:
                pytest.fail("the big upload finished before the others could be sent")
    others = [threading.Thread(target=upload, args=(f"s{i}", p, f"uploader-{i}")) for i, p in enumerate(smalls)]
    for t in others:
        t.start()
    for t in [first, *others]:
        t.join()
    statuses = sorted(outcomes[f"s{i}"].status_code for i in range(4))
    assert outcomes["big"].status_code == 200
    busy = [outcomes[f"s{i}"] for i in range(4) if outcomes[f"s{i}"].status_code == 503]
    assert len(busy) >= 2, statuses  # 1 running + 1 waiting admitted; the others refused
    assert all(int(r.headers["Retry-After"]) > 0 for r in busy)
    assert all(r.json()["error"]["type"] == "server_busy" for r in busy)


def test_chat_rate_limit_is_per_user(limited) -> None:
    with httpx.Client(base_url=limited.base_url, timeout=300) as client:
        ask = {"query": "hi", "max_tokens": 1, "use_rag": False}
        for _ in range(3):
            assert client.post("/api/chat", json=ask, headers={"X-User-Id": "hasty"}).status_code == 200
        refused = client.post("/v1/chat/completions", headers={"X-User-Id": "hasty"},
                              json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1})
        assert refused.status_code == 429, refused.text
        assert int(refused.headers["Retry-After"]) > 0
        assert client.post("/api/chat", json=ask, headers={"X-User-Id": "patient"}).status_code == 200
        assert client.get("/api/conversations", headers={"X-User-Id": "hasty"}).status_code == 200  # reads are free


def test_no_rate_limit_by_default_on_loopback(server) -> None:
    ask = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 1}
    with httpx.Client(base_url=server.base_url, timeout=300) as http:
        codes = [http.post("/v1/chat/completions", json=ask, headers={"X-User-Id": "busy-local"}).status_code
                 for _ in range(5)]
    assert codes == [200] * 5


@pytest.fixture(scope="module")
def impatient(start_server):
    """A server that gives each PDF less time than starting a reader takes."""
    return start_server(env={"DOCCHAT_PDF_PARSE_TIMEOUT_S": "0.01"})


def test_a_pdf_that_takes_too_long_fails_alone(impatient, tmp_path) -> None:
    pdf = make_pdf(tmp_path / "slow.pdf", ["Any text at all for the reader."])
    with httpx.Client(base_url=impatient.base_url, timeout=300) as client:
        response = client.post("/api/documents", files=[("files", ("slow.pdf", pdf.read_bytes(), "application/pdf"))])
        assert response.status_code == 200, response.text
        [entry] = response.json()["documents"]
        assert entry["status"] == "failed" and "took too long to read" in entry["error"], entry
        assert client.get("/healthz").status_code == 200
        listed = client.get("/api/documents").json()["documents"]
        assert [d["status"] for d in listed if d["filename"] == "slow.pdf"] == ["failed"]


def test_ocr_renders_are_capped_in_pixels() -> None:
    huge_page = (200 * 72, 200 * 72)  # a page may claim 200 x 200 inches
    scale = render_scale(*huge_page)
    assert huge_page[0] * huge_page[1] * scale * scale <= MAX_RENDER_PIXELS * 1.001
    a4 = (595, 842)
    assert render_scale(*a4) == RENDER_DPI / 72  # ordinary pages keep full resolution
