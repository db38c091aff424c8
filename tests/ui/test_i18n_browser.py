"""The UI's language in a real headless Chromium: a Chinese browser gets Chinese, an
English one English, the switch in Settings outlives a reload, and no English word is
left on the Chinese screen once it is in use (documents, a question, an answer)."""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest
from playwright.sync_api import expect

from tests.pdfs import make_broken_pdfs, make_pdf
from tests.ui.conftest import VIEWPORT
from tests.ui.docchat_page import DocchatPage

pytestmark = [pytest.mark.browser, pytest.mark.timeout(900)]

CJK = re.compile(r"[\u4e00-\u9fff]")
# Latin words the Chinese screen may show: the product, formats, keys, parameter names
# that Chinese UIs keep as they are, and the switch's "English" (a language named in itself).
KEPT_NAMES = {"docchat", "PDF", "Markdown", "JSON", "Top", "API", "Enter", "Shift", "English"}

# Every visible text node and placeholder, skipping what is not UI text: the questions
# and answers, passages quoted from the PDFs, and code (model names, ids).
VISIBLE_TEXT_JS = """() => {
  const skip = '#chatbot [data-testid=bot], #chatbot [data-testid=user], #sources blockquote, code, pre, style, script';
  const shown = (el) => el && el.getClientRects().length > 0 && getComputedStyle(el).visibility !== 'hidden';
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const el = node.parentElement;
    if (!node.textContent.trim() || !shown(el) || el.closest(skip)) continue;
    out.push(node.textContent.trim());
  }
  for (const el of document.querySelectorAll('[placeholder]')) {
    if (shown(el) && !el.closest(skip)) out.push(el.getAttribute('placeholder'));
  }
  return out;
}"""


@pytest.fixture
def open_in(browser, base_url) -> Iterator[Callable[[str], DocchatPage]]:
    """Factory: a new browser context (a new person) whose browser speaks ``locale``."""
    contexts = []

    def _open(locale: str) -> DocchatPage:
        context = browser.new_context(viewport=VIEWPORT, locale=locale)
        context.set_default_timeout(60_000)
        contexts.append(context)
        return DocchatPage(context.new_page(), base_url).open()

    yield _open
    for context in contexts:
        context.close()


def english_words(texts: list[str], file_names: list[str]) -> list[str]:
    """Latin-only words in ``texts`` outside file names and KEPT_NAMES, each with its text."""
    found = []
    for text in texts:
        for name in file_names:
            text = text.replace(name, "")
        for word in re.findall(r"[A-Za-z]{2,}", text):
            if word not in KEPT_NAMES:
                found.append(f"{word!r} in {text!r}")
    return found


def test_chinese_browser_gets_chinese_and_a_chinese_message_for_a_broken_pdf(open_in, base_url, tmp_path):
    tag = uuid.uuid4().hex[:8]
    broken = make_broken_pdfs(tmp_path / "broken")["random"].rename(tmp_path / f"损坏-{tag}.pdf")
    ui = open_in("zh-CN")
    page = ui.page
    expect(page.locator("#send")).to_have_text("发送")
    expect(page.locator("#new-chat")).to_have_text("+ 新对话")
    expect(page.locator("#upload")).to_contain_text("添加 PDF")
    expect(page.locator("#upload")).to_contain_text("点击上传")  # Gradio's own strings follow too
    expect(page.locator("#chatbot")).to_contain_text("上传 PDF，或者直接提问")
    expect(page.locator("#chatbot")).to_contain_text("这份文档讲了什么？")  # an example question

    ui.upload(broken)
    row = ui.document_row(broken.name)
    expect(row).to_have_attribute("data-status", "failed", timeout=120_000)
    expect(row.locator(".status")).to_have_text("失败")
    expect(row.locator(".doc-error")).to_have_text(f"{broken.name}：不是 PDF 文件")
    toast = page.locator("[data-testid=toast-body]", has_text=f"{broken.name}：不是 PDF 文件")
    expect(toast).to_be_visible()
    expect(toast).to_contain_text("注意")  # the toast's title too
    ui.screenshot(tmp_path / "zh-broken.png")

    # The API stays English and machine-readable.
    listed = httpx.get(f"{base_url}/api/documents", timeout=30).json()["documents"]
    api_row = next(d for d in listed if d["filename"] == broken.name)
    assert api_row["status"] == "failed" and api_row["error"] == f"{broken.name}: not a PDF file"
    ui.delete_document(f"{broken.name} (失败)", row_name=broken.name)


def test_english_browser_gets_english(open_in):
    ui = open_in("en-US")
    page = ui.page
    expect(page.locator("#send")).to_have_text("Send")
    expect(page.locator("#new-chat")).to_have_text("+ New chat")
    expect(page.locator("#upload")).to_contain_text("Add PDFs")
    expect(page.locator("#upload")).to_contain_text("Click to Upload")
    expect(page.locator("#chatbot")).to_contain_text("What is this document about?")
    # Documents are shared by everyone on the server: their (maybe Chinese) names may show.
    file_names = page.locator("#documents .doc-name").evaluate_all("els => els.map(e => e.title)")
    texts = page.evaluate(VISIBLE_TEXT_JS)
    assert texts and not [text for text in texts if CJK.search(text) and text not in file_names]


def test_any_chinese_locale_gets_simplified_chinese(open_in):
    """Gradio alone would show English to zh-HK or a bare zh."""
    for locale in ("zh-HK", "zh"):
        ui = open_in(locale)
        expect(ui.page.locator("#send")).to_have_text("发送")
        expect(ui.page.locator("#upload")).to_contain_text("点击上传")


def choose_language(ui: DocchatPage, label: str) -> None:
    ui.open_settings()
    ui.page.locator("#language label", has_text=label).click()


def test_the_language_switch_survives_a_reload(open_in):
    ui = open_in("zh-CN")
    page = ui.page
    expect(page.locator("#send")).to_have_text("发送")

    choose_language(ui, "English")  # the page reloads in English (slow on a loaded machine)
    expect(page.locator("#send")).to_have_text("Send", timeout=60_000)
    ui.wait_until_ready()
    expect(page.locator("#upload")).to_contain_text("Click to Upload")
    ui.reload()
    expect(page.locator("#send")).to_have_text("Send")
    expect(page.locator("#new-chat")).to_have_text("+ New chat")
    ui.open_settings()
    expect(page.locator("#language input[value=en]")).to_be_checked()

    choose_language(ui, "Follow the browser")  # back to the browser's language
    expect(page.locator("#send")).to_have_text("发送", timeout=60_000)
    ui.wait_until_ready()
    ui.reload()
    expect(page.locator("#send")).to_have_text("发送")


def test_no_english_left_on_the_chinese_screen_in_use(open_in, tmp_path):
    tag = uuid.uuid4().hex[:8]
    pdf = make_pdf(
        tmp_path / f"汉服简介-{tag}.pdf",
        [f"汉服简介（{tag}）。汉服是汉族的传统服饰，历史悠久，"
         "以交领右衽、宽袍大袖为主要特点。",
         "现代汉服爱好者常在传统节日穿着汉服，举办雅集和游园活动。"],
        cjk=True,
    )
    ui = open_in("zh-CN")
    page = ui.page
    ui.upload(pdf)
    expect(ui.document_row(pdf.name)).to_have_attribute("data-status", "ready", timeout=180_000)
    expect(ui.document_row(pdf.name).locator(".status")).to_have_text("就绪")
    toast = page.locator("[data-testid=toast-body]", has_text=f"{pdf.name}：已就绪")
    expect(toast).to_be_visible()
    texts = page.evaluate(VISIBLE_TEXT_JS)  # with the toast on screen
    assert any("已就绪" in text for text in texts)
    ui.set_number("max-new-tokens", 64)
    ui.set_number("temperature", 0)
    ui.ask("汉服有什么特点？")
    ui.wait_answer_started()
    answer = ui.wait_answer_done()
    expect(page.locator("#sources")).to_contain_text("第 1 页")
    tools = page.locator("#conversation-tools")
    if not page.locator("#export-json").is_visible():
        tools.locator("button").first.click()
    expect(tools).to_contain_text("重命名 · 删除 · 导出")
    page.mouse.move(0, 0)
    page.evaluate("window.scrollTo(0, 0)")
    ui.screenshot(tmp_path / "zh-answer.png")

    texts += page.evaluate(VISIBLE_TEXT_JS)
    assert any("设置" in text for text in texts) and any("检索" in text for text in texts)  # the walk saw them
    # Documents are shared by everyone on the server: any of their names may show.
    file_names = page.locator("#documents .doc-name").evaluate_all("els => els.map(e => e.title)")
    assert pdf.name in file_names
    assert english_words(texts, file_names) == []
    ui.delete_document(pdf.name)
