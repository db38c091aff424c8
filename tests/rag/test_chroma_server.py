"""The knowledge-base tests again, with Chroma as a real server (``chroma run``) over HTTP.

This is the team-server mode (``DOCCHAT_CHROMA_URL``): the same behaviour must hold when
the vectors live in another process. One server serves the whole module; each test
starts from an empty server (its collections are dropped first).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.rag.test_knowledge_base import (  # noqa: F401  (collected here, with this module's make_kb)
    test_a_delete_cut_short_before_chroma_is_finished_at_start,
    test_delete_leaves_no_trace,
    test_keywords_and_chroma_agree_after_add_delete_and_restart,
    test_keywords_are_reindexed_from_chroma_when_their_rows_are_lost,
    test_private_documents_are_separate_per_owner,
    test_recover_fails_out_interrupted_documents_and_removes_orphans,
    test_restart_keeps_everything,
    test_same_bytes_again_is_a_duplicate,
    test_search_can_be_restricted_to_chosen_documents,
    test_search_finds_the_right_page_in_english_and_chinese,
)

STARTUP_TIMEOUT_S = 60


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _chroma_cli() -> str:
    """The ``chroma`` command installed with the chromadb package (next to this Python)."""
    beside = Path(sys.executable).with_name("chroma")
    return str(beside) if beside.exists() else (shutil.which("chroma") or "chroma")


@pytest.fixture(scope="module")
def chroma_url(tmp_path_factory):
    port = _free_port()
    log = (tmp_path_factory.mktemp("chroma-server") / "server.log").open("w")
    proc = subprocess.Popen([_chroma_cli(), "run", "--path", str(tmp_path_factory.mktemp("chroma-data")),
                             "--host", "127.0.0.1", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    try:
        while True:  # wait for the server's heartbeat (the event), failing fast if it died
            assert proc.poll() is None, f"chroma run exited with {proc.returncode}; see {log.name}"
            try:
                if httpx.get(f"{url}/api/v2/heartbeat", timeout=1.0).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "chroma server did not start"
                try:  # not yet listening: wait a moment for it, or for its exit
                    proc.wait(timeout=0.2)
                except subprocess.TimeoutExpired:
                    pass
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()


@pytest.fixture
def make_kb(make_kb, chroma_url):
    """tests/rag/conftest.py's make_kb with ``chroma_url`` set to the real server (emptied first)."""
    import chromadb

    client = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_url.rsplit(":", 1)[1]))
    for collection in client.list_collections():
        client.delete_collection(collection.name)
    return lambda data_dir=None, embedder_=None, **overrides: make_kb(data_dir, embedder_, chroma_url=chroma_url,
                                                                      **overrides)


def test_the_server_holds_the_vectors_not_the_data_dir(make_kb, english_pdf):
    kb = make_kb()
    assert kb.add_file(english_pdf).status == "ready"
    assert not kb.settings.chroma_dir.exists()
