"""The two UI languages without a browser: complete tables, localized errors of real bad
PDFs, the language a request gets, and prompts that follow the question, not the UI."""

from __future__ import annotations

import re
import string
import threading
from types import SimpleNamespace

import pytest

from rag import ocr
from rag.condense import build_condense_messages
from rag.pdf_loader import load_pages
from rag.prompting import CHAT_INSTRUCTIONS_ZH, RAG_INSTRUCTIONS_EN, RAG_INSTRUCTIONS_ZH, build_system_prompt
from rag.types import EmptyQuestion, PasswordProtectedPDF, Source, UnreadablePDF
from settings import Settings
from storage.history import EmptyTitle
from tests.pdfs import make_broken_pdfs, make_pdf
from ui import chat_events, errors, formatting, i18n, language
from ui.conversation_events import export_markdown

CJK = re.compile(r"[\u4e00-\u9fff]")
# Latin words a Chinese sentence may keep: names of formats, tools, keys and the product.
KEPT_NAMES = {"PDF", "pypdf", "crypto", "tesseract", "ocr", "Markdown", "JSON", "Top", "Enter", "Shift", "docchat"}


def latin_words(text: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]{2,}", text)) - KEPT_NAMES


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def cookie_request(lang: str | None = None, accept: str = "") -> SimpleNamespace:
    headers = {"accept-language": accept}
    if lang:
        headers["cookie"] = f"other=1; {language.COOKIE}={lang}"
    return SimpleNamespace(headers=headers)


# --- the tables ---------------------------------------------------------------------

def test_every_string_exists_in_both_languages_with_the_same_placeholders():
    assert set(i18n.EN) == set(i18n.ZH)
    for key in i18n.EN:
        assert placeholders(i18n.EN[key]) == placeholders(i18n.ZH[key]), key


def test_chinese_strings_are_chinese_sentences():
    for key, text in i18n.ZH.items():
        if key == "stage_OCR" or not latin_words(re.sub(r"\{\w+\}", "", i18n.EN[key])):
            continue  # nothing to translate (a symbol, a number, a format name)
        assert CJK.search(text), f"{key!r} is not translated: {text!r}"
        assert not latin_words(re.sub(r"\{\w+\}", "", text)), f"{key!r} keeps English words: {text!r}"


def test_gradio_gets_both_tables_under_its_locales():
    tables = i18n.I18N.translations_dict
    assert set(tables) == {"en", "zh-CN"}  # zh-CN: Gradio's own Simplified Chinese strings too
    assert tables["zh-CN"]["docchat:send"] == "发送" and tables["en"]["docchat:send"] == "Send"
    assert "send" not in tables["en"]  # a conversation titled "send" stays "send"


def test_an_unknown_key_fails_loudly():
    with pytest.raises(KeyError):
        i18n.L("no-such-key")


# --- which language a tab gets ---------------------------------------------------------

@pytest.mark.parametrize(
    ("request_", "expected"),
    [
        (cookie_request("zh", "en-US"), "zh"),  # the switch (the boot script's cookie) wins
        (cookie_request("en", "zh-CN,zh;q=0.9"), "en"),
        (cookie_request(None, "zh-TW,en;q=0.5"), "zh"),  # no cookie: the browser's first language
        (cookie_request(None, "en-GB,zh;q=0.5"), "en"),
        (cookie_request("klingon", "zh-HK"), "zh"),  # a bad cookie is ignored
        (SimpleNamespace(headers={}), "en"),
        (None, "en"),
    ],
)
def test_request_language(request_, expected):
    assert language.request_language(request_) == expected


def test_boot_script_maps_every_chinese_browser_to_zh_cn_and_remembers_the_choice():
    assert 'startsWith("zh")' in language.BOOT_JS
    assert '"zh": "zh-CN"' in language.BOOT_JS and language.STORAGE_KEY in language.BOOT_JS
    assert "max-age=31536000" in language.BOOT_JS


# --- words handlers compute -----------------------------------------------------------

def test_documents_list_in_chinese_keeps_machine_values_for_tests_and_css():
    documents = [
        {"id": "a", "filename": "报告.pdf", "status": "ready", "pages": 3, "chunks": 7},
        {"id": "b", "filename": "bad.pdf", "status": "failed", "error": "bad.pdf: not a PDF file"},
    ]
    page = formatting.documents_html(documents, "zh")
    assert "<span class='pages'>3</span> 页" in page and "<span class='chunks'>7</span> 个片段" in page
    assert "data-status='ready'" in page and ">就绪<" in page and ">失败<" in page
    assert "bad.pdf：不是 PDF 文件" in page
    assert formatting.removable_choices(documents, "zh")[1] == ("bad.pdf (失败)", "b")
    assert "No documents" not in formatting.documents_html([], "zh")


def test_ingest_toasts_and_progress_in_chinese():
    results = [
        {"filename": "a.pdf", "status": "ready", "pages": 2, "chunks": 5, "warnings": ["1 of 2 page(s) have no text"]},
        {"filename": "b.pdf", "status": "duplicate"},
        {"filename": "c.pdf", "status": "failed", "error": "c.pdf: broken or truncated PDF (EOF marker not found)"},
    ]
    infos, warnings = formatting.ingest_summary(results, "zh")
    assert infos == ["a.pdf：已就绪（2 页，5 个片段）", "b.pdf：已在文档库中"]
    assert warnings == ["a.pdf：2 页中有 1 页没有文字", "c.pdf：PDF 文件已损坏或不完整"]
    progress = formatting.progress_description("a.pdf", 1, 2, "reading pages", 3, 9, "zh")
    assert progress == "a.pdf (1/2)：读取页面 3/9"
    # English stays exactly as before
    assert formatting.ingest_summary(results, "en")[1][1] == "c.pdf: broken or truncated PDF (EOF marker not found)"


def test_sources_and_stopped_answers_in_chinese():
    text = formatting.sources_markdown([Source("d", "汉服.pdf", 4, "汉服是汉族的传统服饰。", 0.9)], "zh")
    assert "第 4 页" in text and "p." not in text
    assert formatting.sources_markdown([], "zh") == i18n.ZH["empty_sources"]
    shown = formatting.chat_messages([{"role": "assistant", "content": "好", "status": "partial"}], "zh")
    assert shown[0]["content"] == "好 *（已停止）*"
    assert formatting.conversation_choices([{"id": "c", "title": ""}], "zh") == [("新对话", "c")]


def test_errors_a_person_can_act_on_are_said_in_chinese():
    assert errors.describe(EmptyQuestion("The question is empty."), "zh") == "问题是空的。"
    assert errors.describe(EmptyTitle("A conversation title cannot be empty."), "zh") == "对话标题不能为空。"
    assert errors.describe(EmptyTitle("A conversation title cannot be empty."), "en") == i18n.t("en", "title_empty")
    assert errors.describe(RuntimeError("boom"), "zh") == "出错了（RuntimeError）；详情见服务器日志。"
    assert errors.describe(EmptyQuestion("The question is empty."), "en") == "The question is empty."


def test_markdown_export_headings_follow_the_ui_language():
    message = SimpleNamespace(role="assistant", created_at="2026-01-02T03:04:05+00:00", status="partial",
                              content="答案 [1]", sources=[{"filename": "a.pdf", "page": 2}])
    question = SimpleNamespace(role="user", created_at="2026-01-02T03:04:00+00:00", status="complete",
                               content="问题", sources=[])
    zh = export_markdown("汉服", [question, message], "zh")
    assert "## 用户 · 2026-01-02 03:04:00 UTC" in zh and "## 助手 · 2026-01-02 03:04:05 UTC（已中断）" in zh
    assert "出处：\n1. a.pdf 第 2 页" in zh
    en = export_markdown("汉服", [question, message], "en")
    assert "## Assistant · 2026-01-02 03:04:05 UTC (interrupted)" in en and "Sources:\n1. a.pdf p. 2" in en


# --- the loader's errors for real bad PDFs ------------------------------------------------

@pytest.fixture
def bad_pdfs(tmp_path):
    files = make_broken_pdfs(tmp_path / "broken")
    files["password"] = make_pdf(tmp_path / "locked.pdf", ["secret page"], password="s3cret")
    files["scanned"] = make_pdf(tmp_path / "scan.pdf", ["A scanned page of text."], image_only=True)
    return files


def loader_error(path) -> str:
    with pytest.raises(UnreadablePDF) as caught:
        load_pages(path, use_ocr=False)
    return str(caught.value)


def test_every_loader_error_of_a_real_bad_pdf_is_said_in_chinese(bad_pdfs):
    seen = {}
    for kind, path in bad_pdfs.items():
        english = loader_error(path)
        chinese = i18n.error_text("zh", english)
        assert chinese.startswith(f"{path.name}："), (kind, chinese)
        assert CJK.search(chinese) and not latin_words(chinese.replace(path.name, "")), (kind, chinese)
        assert i18n.error_text("en", english) == english  # English keeps the loader's words
        seen[kind] = chinese
    assert seen["password"].endswith("有密码保护；请上传没有密码的副本")
    assert "扫描件" in seen["scanned"] and "tesseract-ocr" in seen["scanned"]
    assert seen["empty"].endswith("文件是空的") and seen["random"].endswith("不是 PDF 文件")
    assert seen["truncated"].endswith("已损坏或不完整")


def test_known_messages_without_a_real_file_and_unknown_ones():
    assert i18n.error_text("zh", f"x.pdf: {ocr.INSTALL_HINT}").startswith("x.pdf：这是扫描件")
    assert i18n.error_text("zh", "x.pdf: indexing took longer than 30 s") == "x.pdf：建立索引超过了 30 秒"
    assert i18n.error_text("zh", "x.pdf: something nobody planned for") == "x.pdf：无法建立索引"
    assert isinstance(PasswordProtectedPDF("x"), UnreadablePDF)


# --- prompts follow the question, whatever the UI language --------------------------------

class RecordingChat:
    """Only what stream_answer touches: records the TurnRequest the UI builds."""

    def __init__(self, settings):
        from services.chat import Chat

        self._real = Chat(settings, llm=object(), passages=object(), history=object(), scope=lambda user: None)
        self.requests = []

    def request(self, user_id, text, **fields):
        return self._real.request(user_id, text, **fields)

    def stream(self, req, cancel):
        self.requests.append(req)
        raise EmptyQuestion("stop here")  # shown as a toast; nothing else runs


def ui_turn(services, question: str, ui_lang: str):
    """Send ``question`` the way the UI does, from a tab whose language is ``ui_lang``."""
    stream = chat_events.make_stream_answer(services)
    controls = [True, [], 0.7, 0.9, 0, 64, 3, 512, ""]  # the settings accordion's defaults
    with pytest.warns(UserWarning):  # the toast, outside a Gradio event
        list(stream((chat_events.ASK, question), [], "u1", None, threading.Event(), threading.Lock(),
                    cookie_request(ui_lang), *controls))
    return services.chat.requests[-1]


@pytest.mark.parametrize("ui_lang", ["zh", "en"])
@pytest.mark.parametrize(("question", "chinese"), [("汉服有哪些历史故事？", True), ("What are the risks?", False)])
def test_answer_and_condense_prompts_follow_the_question_not_the_ui(tmp_path, ui_lang, question, chinese):
    settings = Settings(data_dir=tmp_path)
    services = SimpleNamespace(settings=settings, chat=RecordingChat(settings))
    req = ui_turn(services, question, ui_lang)
    assert req.system_prompt is None  # the UI sends no prompt of its own language
    other = ui_turn(services, question, "en" if ui_lang == "zh" else "zh")
    assert other == req  # the UI language never reaches the turn

    source = Source("d", "a.pdf", 1, "text", 1.0)
    system = build_system_prompt(req.system_prompt or settings.system_prompt, req.text, [source])
    assert (RAG_INSTRUCTIONS_ZH if chinese else RAG_INSTRUCTIONS_EN) in system
    plain = build_system_prompt(req.system_prompt or settings.system_prompt, req.text, [])
    assert (CHAT_INSTRUCTIONS_ZH in plain) is chinese
    condense = build_condense_messages([{"role": "user", "content": "earlier"}], req.text)
    assert ("后续问题" in condense[1]["content"]) is chinese
