"""Page object for the docchat screen: what a person does, by the element ids of DESIGN.md §6."""

from __future__ import annotations

import json
import time
from pathlib import Path

from playwright.sync_api import Page, expect

ANSWER_TIMEOUT_MS = 180_000
# How long a click may take to show its effect (the send button held) on a loaded machine.
BUSY_TIMEOUT_MS = 30_000

# Records the text of the newest answer after every change of #chatbot.
WATCH_ANSWERS_JS = """() => {
  const before = document.querySelectorAll('#chatbot [data-testid=bot]').length;
  window.__docchatSeen = [];
  const observer = new MutationObserver(() => {
    const answers = document.querySelectorAll('#chatbot [data-testid=bot]');
    if (answers.length <= before) return;
    const text = answers[answers.length - 1].innerText.trim();
    const seen = window.__docchatSeen;
    if (text && seen[seen.length - 1] !== text) seen.push(text);
  });
  observer.observe(document.querySelector('#chatbot'), {subtree: true, childList: true, characterData: true});
  window.__docchatObserver = observer;
}"""


class DocchatPage:
    def __init__(self, page: Page, base_url: str) -> None:
        self.page = page
        self.base_url = base_url

    # --- page ---------------------------------------------------------------------
    def open(self) -> "DocchatPage":
        self.page.goto(self.base_url + "/")
        self.wait_until_ready()
        return self

    def reload(self) -> None:
        self.page.reload()
        self.wait_until_ready()

    def wait_until_ready(self) -> None:
        """The input is enabled once the page load has resolved who is asking."""
        expect(self.page.locator("#chat-input textarea")).to_be_enabled(timeout=60_000)

    def screenshot(self, path: Path) -> Path:
        self.page.screenshot(path=str(path))
        return path

    # --- documents ------------------------------------------------------------------
    def upload(self, *paths: Path) -> None:
        self.page.set_input_files("#upload input[type=file]", [str(p) for p in paths])

    def document_row(self, filename: str):
        return self.page.locator("#documents li.doc", has=self.page.locator(f".doc-name[title='{filename}']"))

    def wait_document_ready(self, filename: str, timeout_ms: int = 180_000) -> dict[str, str]:
        row = self.document_row(filename)
        expect(row.locator(".status")).to_have_text("ready", timeout=timeout_ms)
        return {
            part: row.locator(f".{part}").inner_text().strip()
            for part in ("doc-name", "pages", "chunks", "status")
        }

    def use_only(self, filename: str) -> None:
        """Tick the document in "Use only these documents"."""
        box = self.page.locator("#doc-filter label", has_text=filename).locator("input")
        box.check()
        expect(box).to_be_checked()

    def delete_document(self, label: str, row_name: str | None = None) -> None:
        """Pick ``label`` in "Remove a document" and remove it; its row disappears."""
        self.page.locator("#doc-to-delete input").click()
        self.page.get_by_role("option", name=label, exact=True).click()
        self.page.locator("#delete-doc").click()
        expect(self.document_row(row_name or label)).to_have_count(0, timeout=60_000)

    # --- settings ---------------------------------------------------------------------
    def open_settings(self) -> None:
        accordion = self.page.locator("#settings")
        if not accordion.locator("#max-new-tokens").is_visible():
            accordion.locator("button").first.click()
        expect(self.page.locator("#max-new-tokens")).to_be_visible()

    def set_number(self, elem_id: str, value: float) -> None:
        """Type ``value`` and wait until the slider shows it. A settings load that lands just
        after the typing (the page's stored settings) puts the old value back, so the typing
        is repeated, up to three times, until it holds."""
        self.open_settings()
        box = self.page.locator(f"#{elem_id} input[type=number]")
        slider = self.page.locator(f"#{elem_id} input[type=range]")
        for _ in range(2):
            box.fill(str(value))
            box.press("Enter")
            try:
                expect(slider).to_have_value(str(value))
                return
            except AssertionError:
                continue
        box.fill(str(value))
        box.press("Enter")
        expect(slider).to_have_value(str(value))

    # --- chat -------------------------------------------------------------------------
    def answers(self):
        return self.page.locator("#chatbot [data-testid=bot]")

    def questions(self):
        return self.page.locator("#chatbot [data-testid=user]")

    def last_answer(self) -> str:
        """Read in one step in the page: a streaming answer is re-rendered at every token, and
        a locator resolved before a re-render can wait on a bubble that no longer exists."""
        return self.page.evaluate(
            "() => { const b = document.querySelectorAll('#chatbot [data-testid=bot]');"
            " return b.length ? b[b.length - 1].innerText.trim() : ''; }")

    def ask(self, text: str, *, press_enter: bool = True) -> None:
        box = self.page.locator("#chat-input textarea")
        box.fill(text)
        if press_enter:
            box.press("Enter")
        else:
            self.page.locator("#send").click()

    def wait_answer_started(self, min_chars: int = 1, before: int = 0) -> str:
        """Wait until a new answer (after ``before`` answers) shows at least ``min_chars``."""
        deadline = time.monotonic() + ANSWER_TIMEOUT_MS / 1000
        while time.monotonic() < deadline:
            if self.answers().count() > before and len(self.last_answer()) >= min_chars:
                return self.last_answer()
            time.sleep(0.05)
        raise AssertionError(f"no answer with {min_chars}+ characters appeared")

    def wait_answer_done(self) -> str:
        """#send is held while an answer is generated and released when it is complete."""
        expect(self.page.locator("#send")).to_be_enabled(timeout=ANSWER_TIMEOUT_MS)
        return self.last_answer()

    def ask_and_watch(self, text: str) -> list[str]:
        """Ask, and record every rendering of the new answer as it grows (a DOM observer sees
        each update, however fast); the last entry is the final answer."""
        self.page.evaluate(WATCH_ANSWERS_JS)
        self.ask(text)
        expect(self.page.locator("#send")).to_be_disabled(timeout=BUSY_TIMEOUT_MS)
        final = self.wait_answer_done()
        seen = self.page.evaluate("() => { window.__docchatObserver.disconnect(); return window.__docchatSeen; }")
        return [*seen, final]

    def regenerate(self) -> str:
        """Click #regenerate and wait for the new answer (the old one stays until it starts)."""
        self.page.locator("#regenerate").click()
        expect(self.page.locator("#send")).to_be_disabled(timeout=BUSY_TIMEOUT_MS)
        return self.wait_answer_done()

    def stop(self) -> None:
        self.page.locator("#stop").click()

    def sources_text(self) -> str:
        return self.page.locator("#sources").inner_text()

    def conversation_titles(self) -> list[str]:
        return [t.strip() for t in self.page.locator("#conversations label").all_inner_texts()]

    def new_chat(self) -> None:
        self.page.locator("#new-chat").click()
        expect(self.questions()).to_have_count(0)

    # --- export -----------------------------------------------------------------------
    def export_json(self) -> dict:
        tools = self.page.locator("#conversation-tools")
        if not self.page.locator("#export-json").is_visible():
            tools.locator("button").first.click()
        self.page.locator("#export-json").click()
        link = self.page.locator("#export-file a").first
        expect(link).to_be_visible()
        href = link.get_attribute("href")
        response = self.page.request.get(href if href.startswith("http") else self.base_url + href)
        assert response.ok, response.status
        return json.loads(response.text())
