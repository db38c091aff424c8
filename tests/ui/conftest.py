"""Headless Chromium (Debian's /usr/bin/chromium) driven by Playwright, against the real app.

The server is the shared ``server`` fixture of tests/conftest.py (a real ``python app.py``
with the bundled models). Set DOCCHAT_UI_BASE_URL to point the browser tests at an
already running instance instead (handy while working on the UI). A test that stops an
answer uses ``held_server`` (tests/conftest.py): a real ``python app.py`` whose answers the
bundled model writes through a gate the test holds, so the answer is still being written
when Stop arrives, however fast the CPU.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Callable, Iterator

import pytest

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
VIEWPORT = {"width": 1440, "height": 900}  # a laptop screen


def chromium_path() -> str | None:
    found = next((p for p in CHROMIUM_CANDIDATES if Path(p).exists()), None)
    return found or shutil.which("chromium")


@pytest.fixture(scope="session")
def base_url(request: pytest.FixtureRequest) -> str:
    url = os.environ.get("DOCCHAT_UI_BASE_URL")
    if url:
        return url.rstrip("/")
    return request.getfixturevalue("server").base_url


@pytest.fixture(scope="session")
def browser() -> Iterator:
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    assert executable, "Chromium is not installed: run `make system-deps` (apt-get install chromium)"
    with sync_playwright() as pw:
        # launch() gives every run a fresh temporary profile (user-data dir).
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def open_docchat(browser, base_url) -> Iterator[Callable[..., "DocchatPage"]]:
    """Factory: each call is a new browser context (own localStorage = another person), on
    the shared server or the one at ``url``."""
    from tests.ui.docchat_page import DocchatPage

    contexts = []

    def _open(url: str | None = None) -> DocchatPage:
        context = browser.new_context(viewport=VIEWPORT, accept_downloads=True, locale="en-US")  # English UI whatever the machine's locale
        context.set_default_timeout(60_000)
        contexts.append(context)
        return DocchatPage(context.new_page(), url or base_url).open()

    yield _open
    for context in contexts:
        context.close()
