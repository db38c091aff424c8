"""Issue 7 §1 through the HTTP upload route ``POST /api/documents`` of the real server:
each bad file gets its own clear status in a 200 answer (never a 500), and the
documents already there stay ready and searchable."""

from __future__ import annotations

import re
import threading
from pathlib import Path

import httpx
import pytest

from tests.reliability.client import upload
from tests.reliability.inputs import HOSTILE_NAMES, bad_inputs, one_page_pdf

HASH_NAME = re.compile(r"^[0-9a-f]{64}\.pdf$")
GOOD_TEXT = "The API lighthouse keeper polishes the copper lens every Thursday at dusk."


@pytest.fixture(scope="module")
def cases(tmp_path_factory, ocr_on: bool):
    return {case.name: case for case in bad_inputs(tmp_path_factory.mktemp("api-inputs"))}


@pytest.fixture(scope="module")
def good_doc(server, tmp_path_factory) -> dict:
    data = one_page_pdf(tmp_path_factory.mktemp("api-good"), GOOD_TEXT, "keeper.pdf")
    response = upload(server, [("keeper.pdf", data)])
    assert response.status_code == 200, response.text
    doc = response.json()["documents"][0]
    assert doc["status"] in ("ready", "duplicate")
    return doc


def assert_good_doc_untouched(server, good_doc: dict) -> None:
    listed = {d["id"]: d for d in httpx.get(f"{server.base_url}/api/documents", timeout=60).json()["documents"]}
    assert listed[good_doc["id"]]["status"] == "ready"
    hits = httpx.post(f"{server.base_url}/api/search", json={"query": "lighthouse keeper copper lens", "k": 3},
                      timeout=120).json()["results"]
    assert good_doc["id"] in {hit["document_id"] for hit in hits}


@pytest.mark.parametrize("name", ["empty", "random_bytes", "zip_named_pdf", "truncated", "password",
                                  "aes_empty_password", "image_only", "odd_unicode"])
def test_upload_of_bad_input_answers_200_with_a_per_file_status(name, cases, server, good_doc):
    case = cases[name]

    response = upload(server, [(case.filename, case.data)])

    assert response.status_code == 200, response.text
    [doc] = response.json()["documents"]
    assert doc["filename"] == case.filename
    if case.status == "ready":
        assert doc["status"] in ("ready", "duplicate"), doc  # duplicate when the session re-uploads it
    else:
        assert doc["status"] == "failed"
        assert doc["error"].startswith(case.filename), doc["error"]
        assert "Traceback" not in doc["error"]
        if case.message:
            assert case.message in doc["error"].lower()
    assert_good_doc_untouched(server, good_doc)


def test_one_request_with_many_bad_files_fails_each_alone(cases, server, good_doc, tmp_path: Path):
    fresh = one_page_pdf(tmp_path, "A fresh page about the walrus choir rehearsing in the harbor.", "walrus.pdf")
    files = [(c.filename, c.data) for c in cases.values()] + [("walrus.pdf", fresh)]

    response = upload(server, files)

    assert response.status_code == 200, response.text
    docs = response.json()["documents"]
    assert [d["filename"] for d in docs] == [name for name, _ in files]
    statuses = {d["filename"]: d["status"] for d in docs}
    for case in cases.values():
        expected = {"ready", "duplicate"} if case.status == "ready" else {"failed"}
        assert statuses[case.filename] in expected, (case.name, docs)
    assert statuses["walrus.pdf"] == "ready"
    assert_good_doc_untouched(server, good_doc)


@pytest.mark.parametrize("raw_name", HOSTILE_NAMES, ids=["dotdot", "backslash", "quotes", "html", "chinese", "300chars"])
def test_hostile_file_name_is_stored_by_hash_and_displayed_as_a_plain_name(raw_name, server, tmp_path: Path):
    data = one_page_pdf(tmp_path, f"API page for the hostile name number {HOSTILE_NAMES.index(raw_name)}.")

    response = upload(server, [(raw_name, data)])

    assert response.status_code == 200, response.text
    [doc] = response.json()["documents"]
    assert doc["status"] in ("ready", "duplicate"), doc
    shown = doc["filename"]
    assert shown and "/" not in shown and "\\" not in shown and ".." not in shown.replace("...", "")
    assert len(shown) <= 255
    if raw_name.startswith("中文"):
        assert shown == raw_name
    stored = {p.name for p in (server.data_dir / "files").iterdir()}
    assert all(HASH_NAME.match(name) for name in stored), stored
    assert f"{doc['id']}.pdf" in stored
    assert not Path("/tmp/escape.pdf").exists()


def test_same_file_uploaded_twice_at_the_same_moment_gives_one_ready_one_duplicate(server, tmp_path: Path):
    data = one_page_pdf(tmp_path, "Twin API upload about the narwhal library and its ivory shelves.")
    barrier = threading.Barrier(2)
    answers: list[httpx.Response] = []

    def send() -> None:
        barrier.wait()
        answers.append(upload(server, [("twin.pdf", data)]))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)

    assert [a.status_code for a in answers] == [200, 200]
    statuses = sorted(a.json()["documents"][0]["status"] for a in answers)
    assert statuses == ["duplicate", "ready"]
    listed = [d for d in httpx.get(f"{server.base_url}/api/documents", timeout=60).json()["documents"]
              if d["id"] == answers[0].json()["documents"][0]["id"]]
    assert [d["status"] for d in listed] == ["ready"]
