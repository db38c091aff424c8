"""The docchat screen in a real headless Chromium against the real app and bundled models.

One person's whole journey (upload → ask → follow-up → stop → reload) is one test, in
order, because each step needs the state the previous one left; other people and the
empty screen have their own tests. Every test saves a screenshot under its tmp dir.
The journey runs on ``held_server`` (tests/conftest.py): the answer it stops is held
by a gate once it shows a few words, so Stop always finds it still being written — a fast
CPU once finished the "very long story" before Stop arrived.
"""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.pdfs import make_broken_pdfs, make_pdf

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

SHORT = 48  # tokens per ordinary answer: enough to see streaming, quick on a CPU
LONG = 2048  # tokens allowed for the answer we stop
HELD_AFTER = 60  # characters the stopped answer shows before the gate holds it


@pytest.fixture
def freedonia_pdf(tmp_path: Path) -> Path:
    """A two-page PDF unique in name and content (the server's documents are shared by all
    tests, and a file with known content is a duplicate)."""
    tag = uuid.uuid4().hex[:8]
    return make_pdf(
        tmp_path / f"freedonia-{tag}.pdf",
        [
            f"Freedonia travel notes ({tag}). The capital of Freedonia is Fredville, a city on the Silver River. "
            "Fredville is famous for its copper bridges and its spring lantern festival.",
            "Freedonia wildlife. The national animal of Freedonia is the blue heron, "
            "which nests along the Silver River every summer.",
        ],
    )


def test_empty_screen_tells_a_new_user_what_to_do(open_docchat, tmp_path):
    ui = open_docchat()
    ui.screenshot(tmp_path / "empty.png")
    expect(ui.page.locator("#chatbot")).to_contain_text("Upload a PDF or just ask")
    expect(ui.page.locator("#sources")).to_contain_text("Sources of the latest answer appear here")
    expect(ui.page.locator("#model-info")).to_contain_text("Chat")
    expect(ui.page.locator("#model-info")).to_contain_text("Embeddings")
    expect(ui.page.locator("#model-info")).to_contain_text("Device")
    for element in ("#upload", "#documents", "#conversations", "#new-chat", "#send", "#stop",
                    "#regenerate", "#settings"):
        expect(ui.page.locator(element)).to_have_count(1)


def test_shift_enter_adds_a_line_and_enter_sends(open_docchat):
    ui = open_docchat()
    box = ui.page.locator("#chat-input textarea")
    box.fill("first line")
    box.press("Shift+Enter")
    box.type("second line")
    expect(box).to_have_value("first line\nsecond line")
    expect(ui.questions()).to_have_count(0)
    ui.set_number("max-new-tokens", 16)
    box.press("Enter")
    expect(ui.questions()).to_have_count(1)
    expect(box).to_have_value("")
    ui.wait_answer_done()


def test_several_pdfs_at_once_and_a_broken_one_fails_alone(open_docchat, tmp_path):
    tag = uuid.uuid4().hex[:8]
    good = make_pdf(tmp_path / f"teapots-{tag}.pdf", [f"Teapots ({tag}) keep tea warm.", "Page two."])
    broken = make_broken_pdfs(tmp_path / "broken")["random"].rename(tmp_path / f"random-{tag}.pdf")
    ui = open_docchat()
    ui.upload(good, broken)
    assert ui.wait_document_ready(good.name)["pages"] == "2"
    failed = ui.document_row(broken.name)
    expect(failed.locator(".status")).to_have_text("failed")
    expect(failed.locator(".doc-error")).not_to_be_empty()
    expect(ui.page.get_by_text(f"{broken.name}: ").first).to_be_visible()  # the warning toast
    ui.screenshot(tmp_path / "upload-two.png")
    assert "Traceback" not in ui.page.locator("body").inner_text()
    ui.delete_document(good.name)
    ui.delete_document(f"{broken.name} (failed)", row_name=broken.name)


def test_pdf_chat_journey(open_docchat, held_server, held_model, freedonia_pdf, tmp_path):
    name = freedonia_pdf.name
    url, gate = held_server.base_url, held_model[1]
    ui = open_docchat(url)

    # Upload → the table shows it ready with its page count.
    ui.upload(freedonia_pdf)
    row = ui.wait_document_ready(name)
    assert row["pages"] == "2" and int(row["chunks"]) >= 1
    ui.use_only(name)  # other tests' documents share this server

    # Ask → the answer streams in, and #sources names the file and page.
    ui.set_number("max-new-tokens", SHORT)
    seen = ui.ask_and_watch("What is the capital of Freedonia? Describe the city.")
    final = seen[-1]
    assert final, "the answer is empty"
    partial = [text for text in seen[:-1] if len(text) < len(final) and final.startswith(text[:10])]
    assert partial, f"the answer did not stream: {seen}"
    sources = ui.sources_text()
    assert f"[1] {name} · p. 1" in sources or f"[1] {name} · p. 2" in sources, sources
    ui.screenshot(tmp_path / "main.png")
    title = ui.conversation_titles()
    assert any("capital of Freedonia" in t for t in title), title

    # Follow-up in the same conversation.
    ui.ask_and_watch("And what is its national animal?")
    expect(ui.questions()).to_have_count(2)
    expect(ui.answers()).to_have_count(2)
    assert name in ui.sources_text()

    # Regenerate replaces the last answer instead of adding one.
    ui.regenerate()
    expect(ui.answers()).to_have_count(2)
    assert ui.last_answer()

    # Stop a long answer mid-way: it stops growing and what was written is kept. The gate
    # holds the answer once it has shown HELD_AFTER characters: only Stop can end it.
    ui.set_number("max-new-tokens", LONG)
    gate.hold_next(after_chars=HELD_AFTER)
    ui.ask("Write a very long story about the blue heron of Freedonia, with many chapters.")
    ui.wait_answer_started(min_chars=40, before=2)
    assert gate.holding.wait(120), "the answer never reached the gate"
    ui.stop()
    ui.wait_answer_done()
    kept = ui.last_answer()
    # The answer is stored when its generation ends: stored as partial means Stop ended it
    # (a held answer ends no other way), with the words it showed before the hold.
    exported = ui.export_json()
    last = exported["messages"][-1]
    assert last["role"] == "assistant" and last["status"] == "partial", last
    assert last["content"].strip() and last["content"].strip()[:30] in gate.shown, (last["content"], gate.shown)
    assert ui.last_answer() == kept and kept  # nothing was added on screen after the stop
    ui.screenshot(tmp_path / "stopped.png")

    # Reload → the same conversation is back.
    ui.reload()
    expect(ui.questions()).to_have_count(3)
    expect(ui.questions().first).to_contain_text("What is the capital of Freedonia?")
    expect(ui.answers().last).to_contain_text("(stopped)")
    assert any("capital of Freedonia" in t for t in ui.conversation_titles())
    ui.screenshot(tmp_path / "reloaded.png")

    # Another browser is another person: it does not see the conversation.
    other = open_docchat(url)
    assert not any("capital of Freedonia" in t for t in other.conversation_titles())
    expect(other.questions()).to_have_count(0)
    other.screenshot(tmp_path / "other-browser.png")

    # Delete the document → gone from #documents and from the sources of new answers.
    ui.delete_document(name)
    ui.new_chat()
    ui.set_number("max-new-tokens", 16)
    assert ui.ask_and_watch("What is the capital of Freedonia?")[-1]  # the model answers again after Stop
    assert name not in ui.sources_text()
    ui.screenshot(tmp_path / "after-delete.png")
