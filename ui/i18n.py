"""Every piece of text the UI shows, in English and Simplified Chinese.

Two kinds of text, two ways to look a string up (both use the keys of ``EN``/``ZH``):

- **Static component text** (labels, buttons, placeholders, headings, settings help):
  ``label=L("send")``. That is a ``gr.I18n`` key; the browser translates it with the
  page's locale (``I18N`` is passed to ``gr.mount_gradio_app`` by ui/blocks.py), so the
  server never needs to know the language for it.
- **Text a handler computes** (toasts, the documents list, progress, sources, errors):
  ``t(lang, "key", name=...)`` with ``lang = ui.language.request_language(request)``.
  ``gr.I18n`` cannot do this: its keys carry no parameters and the browser translates
  only one key per string.

To add a string: add the key to ``EN`` and to ``ZH`` (same ``{placeholders}``; the
test tests/ui/test_i18n.py fails when a key or a placeholder is missing on one side),
then use it with ``L`` or ``t``. Say it the way a person would, in each language;
keep file names, model names and code as they are.

The HTTP API stays English and machine-readable; only what a person reads in the UI is
translated here, including the per-file errors of the PDF loader (``error_text``).
"""

from __future__ import annotations

import re
from typing import Any

import gradio as gr

LANGUAGES = ("en", "zh")
DEFAULT_LANGUAGE = "en"
# The Gradio locale of each language (zh-CN: Gradio's own strings in Chinese too, e.g. upload area).
LOCALES = {"en": "en", "zh": "zh-CN"}

EN: dict[str, str] = {
    # header
    "brand": "# docchat\nPrivate chat with your PDFs, with page citations",
    "model_info": "**Chat** `{chat}` · **Embeddings** `{embedding}` · **Device** `{device}`",
    # conversations
    "conversations_title": "#### Conversations",
    "conversations": "Conversations",
    "new_chat": "+ New chat",
    "conversation_tools": "Rename · delete · export",
    "title_label": "Title",
    "title_placeholder": "New title",
    "rename": "Rename",
    "delete": "Delete",
    "export_md": "⬇ Markdown",
    "export_json": "⬇ JSON",
    "export_file": "Export",
    "new_chat_title": "New chat",
    "export_user": "User",
    "export_assistant": "Assistant",
    "export_interrupted": " (interrupted)",
    "export_sources": "Sources:",
    "export_unknown_document": "unknown document",
    # documents
    "documents_title": "#### Documents",
    "upload": "Add PDFs",
    "doc_filter": "Use only these documents",
    "doc_filter_info": "None ticked: search all of them.",
    "doc_to_delete": "Remove a document",
    "delete_doc": "Remove",
    "empty_documents": "No documents yet: drop PDFs above to chat with them.",
    "pages": "pages",
    "chunks": "chunks",
    "status_ready": "ready",
    "status_indexing": "indexing",
    "status_failed": "failed",
    "status_duplicate": "duplicate",
    # chat
    "empty_chat": (
        "### Upload a PDF or just ask\n"
        "Add PDFs on the left, then ask about them — answers cite pages like **[1]**.\n\n"
        "For example:\n"
        "- *What is this document about?*\n"
        "- *Summarize the main points in three sentences.*\n"
        "- *Which page talks about the costs?*"
    ),
    "chat_input": "Your question",
    "chat_placeholder": "Ask about your PDFs…  (Enter sends, Shift+Enter adds a line)",
    "send": "Send",
    "stop": "■ Stop",
    "regenerate": "↻ Regenerate",
    "stopped_mark": " *(stopped)*",
    # sources
    "sources_title": "#### Sources of the latest answer",
    "empty_sources": "_Sources of the latest answer appear here._",
    "page": "p. {page}",
    # source viewer (ui/source_viewer.py)
    "viewer_hint": "Click a source, an answer or an [n] mark to see the cited page.",
    "viewer_page_of": "page {page} of {pages}",
    "viewer_previous": "‹ Previous page",
    "viewer_next": "Next page ›",
    "viewer_open_pdf": "Open the PDF at page {page}",
    "viewer_image_alt": "Page {page} of {filename}, the cited passage highlighted",
    "viewer_document_removed": "{filename}: document removed — this source can no longer be shown.",
    "source_cited": "cited",
    "source_not_cited": "not cited",
    "source_not_found": "not found on the cited page",
    "calc_heading": "Calculations (done by docchat, not the model)",
    "answer_unaccounted": "Check these figures: no passage prints them and no calculation gave them: {figures}",
    "calc_checked": "every figure found in the passages",
    "calc_flagged": "check this",
    "answer_sources": "Sources of answer {n}",
    "answer_no_sources": "This answer has no sources.",
    "focus_only": "Searched only {files}: the question names it.",
    "focus_first": "Searched {files} first: the question names it.",
    "answer_replaced": "The model's answer was not in these passages, so docchat says so instead.",
    "answer_computed": "The model's answer did not state docchat's calculation from these passages, so docchat states it.",
    # settings
    "settings": "Settings",
    "language": "Language",
    "language_auto": "Follow the browser",
    "use_rag": "Answer from my documents (retrieval)",
    "temperature": "Temperature",
    "temperature_info": "Higher: more varied answers; 0: always the most likely words.",
    "top_p": "Top-p (0 or 1: off)",
    "top_k": "Top-k (0: off)",
    "max_new_tokens": "Max new tokens",
    "retrieval_k": "Retrieved chunks (k)",
    "history_budget": "History token budget",
    "system_prompt": "System prompt",
    "system_prompt_placeholder": "Empty: the server's prompt, which answers in the language of the question.",
    # progress
    "progress": "{where}: {stage}{amount}",
    "stage_starting": "starting",
    "stage_reading pages": "reading pages",
    "stage_OCR": "OCR",
    "stage_embedding": "embedding",
    # toasts
    "toast_warning": "Warning",
    "toast_info": "Info",
    "toast_error": "Error",
    "toast_success": "Success",
    "ingest_ready": "{name}: ready ({pages} pages, {chunks} chunks)",
    "ingest_duplicate": "{name}: already in the library",
    "ingest_failed": "could not be indexed",
    "pages_without_text": "{name}: {empty} of {total} page(s) have no text",
    "no_regenerate": "There is no answer to regenerate yet.",
    "still_answering": "Still answering the previous question: wait for it or press Stop.",
    "summarising": "Reading the document part by part before summarising it: {done} of {total} done…",
    "rename_first": "Ask something first: a new chat has nothing to rename yet.",
    "renamed": "Renamed.",
    "conversation_deleted": "Conversation deleted.",
    "nothing_to_export": "Nothing to export yet: ask something first.",
    "pick_document": "Pick a document to remove first.",
    "document_removed": "Document removed; answers will no longer cite it.",
    "already_removed": "That document was already removed.",
    # errors
    "busy": "The model is busy answering other people; please try again in a moment.",
    "gone": "That conversation no longer exists; start a new chat.",
    "unexpected": "Something went wrong ({name}); the details are in the server log.",
    "not_done": "That did not work; the details are in the server log.",
    "empty_question": "The question is empty.",
    "nothing_to_regenerate": "There is no question to answer again in this conversation.",
    "prompt_too_long": "The question and the conversation are too long for the model; start a new chat or ask a shorter question.",
    "title_empty": "A conversation title cannot be empty.",
    "embedding_mismatch": "The index was built with another embedding model; use a new data dir or re-index.",
    # per-file errors of the PDF loader / knowledge base (see ERROR_PATTERNS)
    "pdf_empty": "{name}: the file is empty",
    "pdf_not_pdf": "{name}: not a PDF file",
    "pdf_password": "{name}: the PDF is protected by a password; upload an unprotected copy",
    "pdf_crypto": "{name}: encrypted with a method this install cannot read; install pypdf[crypto]",
    "pdf_broken": "{name}: broken or truncated PDF",
    "pdf_no_pages": "{name}: the PDF has no pages",
    "pdf_no_text": "{name}: no text found in the PDF",
    "pdf_scanned": "{name}: no text layer; install tesseract-ocr to read scanned PDFs",
    "pdf_unreadable_file": "{name}: cannot read the file",
    "pdf_timeout": "{name}: indexing took longer than {seconds} s",
    "pdf_deleted": "{name}: deleted while it was being indexed",
    "pdf_failed": "{name}: could not be indexed",
}

ZH: dict[str, str] = {
    "brand": "# docchat\n与你的 PDF 私密对话，每个回答都注明出处页码",
    "model_info": "**对话模型** `{chat}` · **嵌入模型** `{embedding}` · **设备** `{device}`",
    "conversations_title": "#### 对话",
    "conversations": "对话",
    "new_chat": "+ 新对话",
    "conversation_tools": "重命名 · 删除 · 导出",
    "title_label": "标题",
    "title_placeholder": "新标题",
    "rename": "重命名",
    "delete": "删除",
    "export_md": "⬇ Markdown",
    "export_json": "⬇ JSON",
    "export_file": "导出文件",
    "new_chat_title": "新对话",
    "export_user": "用户",
    "export_assistant": "助手",
    "export_interrupted": "（已中断）",
    "export_sources": "出处：",
    "export_unknown_document": "未知文档",
    "documents_title": "#### 文档",
    "upload": "添加 PDF",
    "doc_filter": "只用这些文档",
    "doc_filter_info": "都不勾选：搜索全部文档。",
    "doc_to_delete": "移除文档",
    "delete_doc": "移除",
    "empty_documents": "还没有文档：把 PDF 拖到上面，就可以就它们提问。",
    "pages": "页",
    "chunks": "个片段",
    "status_ready": "就绪",
    "status_indexing": "索引中",
    "status_failed": "失败",
    "status_duplicate": "重复",
    "empty_chat": (
        "### 上传 PDF，或者直接提问\n"
        "在左侧添加 PDF，然后就它们提问——回答会像 **[1]** 这样注明出处。\n\n"
        "例如：\n"
        "- *这份文档讲了什么？*\n"
        "- *用三句话总结主要内容。*\n"
        "- *哪一页提到了费用？*"
    ),
    "chat_input": "你的问题",
    "chat_placeholder": "就你的 PDF 提问…（Enter 发送，Shift+Enter 换行）",
    "send": "发送",
    "stop": "■ 停止",
    "regenerate": "↻ 重新生成",
    "stopped_mark": " *（已停止）*",
    "sources_title": "#### 最新回答的出处",
    "empty_sources": "_最新回答引用的出处会显示在这里。_",
    "page": "第 {page} 页",
    # source viewer (ui/source_viewer.py)
    "viewer_hint": "点击出处、某条回答或其中的 [n] 标记，即可查看被引用的页面。",
    "viewer_page_of": "第 {page} 页，共 {pages} 页",
    "viewer_previous": "‹ 上一页",
    "viewer_next": "下一页 ›",
    "viewer_open_pdf": "在第 {page} 页打开 PDF",
    "viewer_image_alt": "{filename} 第 {page} 页，被引用的段落已高亮",
    "viewer_document_removed": "{filename}：文档已删除，无法再显示这个出处。",
    "source_cited": "已引用",
    "source_not_cited": "未引用",
    "source_not_found": "在引用的页面上找不到",
    "calc_heading": "计算（由 docchat 完成，而非模型）",
    "answer_unaccounted": "请核对这些数字：片段中没有印出，也不是计算得出的：{figures}",
    "calc_checked": "每个数字都在片段中找到",
    "calc_flagged": "请核对",
    "answer_sources": "第 {n} 条回答的出处",
    "answer_no_sources": "这条回答没有出处。",
    "focus_only": "只检索了 {files}：问题中提到了它。",
    "focus_first": "优先检索了 {files}：问题中提到了它。",
    "answer_replaced": "模型的回答在这些片段中找不到依据，所以 docchat 如实说明没有相关内容。",
    "answer_computed": "模型的回答没有给出 docchat 根据这些片段算出的结果，所以由 docchat 直接给出。",
    "settings": "设置",
    "language": "界面语言",
    "language_auto": "跟随浏览器",
    "use_rag": "根据我的文档回答（检索）",
    "temperature": "温度",
    "temperature_info": "越高回答越多样；0 表示总是选最可能的词。",
    "top_p": "Top-p（0 或 1：关闭）",
    "top_k": "Top-k（0：关闭）",
    "max_new_tokens": "最多生成的词元数",
    "retrieval_k": "检索的片段数（k）",
    "history_budget": "历史对话的词元预算",
    "system_prompt": "系统提示词",
    "system_prompt_placeholder": "留空：使用服务器的提示词，按提问的语言回答。",
    "progress": "{where}：{stage}{amount}",
    "stage_starting": "开始",
    "stage_reading pages": "读取页面",
    "stage_OCR": "文字识别",
    "stage_embedding": "向量化",
    "toast_warning": "注意",
    "toast_info": "提示",
    "toast_error": "错误",
    "toast_success": "成功",
    "ingest_ready": "{name}：已就绪（{pages} 页，{chunks} 个片段）",
    "ingest_duplicate": "{name}：已在文档库中",
    "ingest_failed": "无法建立索引",
    "pages_without_text": "{name}：{total} 页中有 {empty} 页没有文字",
    "no_regenerate": "还没有可以重新生成的回答。",
    "still_answering": "还在回答上一个问题：请稍等，或者按“停止”。",
    "summarising": "正在分段阅读文档，然后总结：已完成 {done}/{total}…",
    "rename_first": "请先提问：新对话还没有可以重命名的内容。",
    "renamed": "已重命名。",
    "conversation_deleted": "对话已删除。",
    "nothing_to_export": "还没有可以导出的内容：请先提问。",
    "pick_document": "请先选择要移除的文档。",
    "document_removed": "文档已移除；回答将不再引用它。",
    "already_removed": "这个文档已经被移除了。",
    "busy": "模型正在回答其他人的问题，请稍后再试。",
    "gone": "这个对话已不存在；请开始新对话。",
    "unexpected": "出错了（{name}）；详情见服务器日志。",
    "not_done": "操作没有完成；详情见服务器日志。",
    "empty_question": "问题是空的。",
    "nothing_to_regenerate": "这个对话里没有可以重新回答的问题。",
    "prompt_too_long": "问题和对话对模型来说太长了；请开始新对话或把问题问得短一些。",
    "title_empty": "对话标题不能为空。",
    "embedding_mismatch": "索引是用另一个嵌入模型建立的；请换一个数据目录或重新建立索引。",
    "pdf_empty": "{name}：文件是空的",
    "pdf_not_pdf": "{name}：不是 PDF 文件",
    "pdf_password": "{name}：PDF 有密码保护；请上传没有密码的副本",
    "pdf_crypto": "{name}：PDF 的加密方式无法读取；请安装 pypdf[crypto]",
    "pdf_broken": "{name}：PDF 文件已损坏或不完整",
    "pdf_no_pages": "{name}：PDF 没有任何页面",
    "pdf_no_text": "{name}：PDF 中没有找到文字",
    "pdf_scanned": "{name}：这是扫描件，没有文字层；请安装 tesseract-ocr 来识别扫描的 PDF",
    "pdf_unreadable_file": "{name}：无法读取文件",
    "pdf_timeout": "{name}：建立索引超过了 {seconds} 秒",
    "pdf_deleted": "{name}：在建立索引时被删除了",
    "pdf_failed": "{name}：无法建立索引",
}

TRANSLATIONS = {"en": EN, "zh": ZH}

# Keys Gradio itself asks for but ships in no language (its status tracker announces
# "common.complete" to screen readers), filled in so no raw key shows on the page.
GRADIO_GAPS = {"en": {"common.complete": "Done"}, "zh": {"common.complete": "完成"}}

# The English messages of rag/pdf_loader.py and rag/knowledge_base.py (stored on the
# document and returned by the API as they are) → the key that says it in the UI.
# A new loader message needs a line here; tests/ui/test_i18n.py feeds real bad PDFs.
ERROR_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(rf"^(?P<name>.+?): {pattern}$", re.DOTALL), key)
    for pattern, key in [
        (r"the file is empty", "pdf_empty"),
        (r"not a PDF file", "pdf_not_pdf"),
        (r"the PDF is protected by a password.*", "pdf_password"),
        (r"encrypted with a method this install cannot read.*", "pdf_crypto"),
        (r"broken or truncated PDF.*", "pdf_broken"),
        (r"the PDF has no pages", "pdf_no_pages"),
        (r"no text found in the PDF", "pdf_no_text"),
        (r"no text layer; install tesseract-ocr.*", "pdf_scanned"),
        (r"cannot read the file.*", "pdf_unreadable_file"),
        (r"indexing took longer than (?P<seconds>\d+) s", "pdf_timeout"),
        (r"deleted while it was being indexed", "pdf_deleted"),
        (r"could not be indexed.*", "pdf_failed"),
        (r"(?P<empty>\d+) of (?P<total>\d+) page\(s\) have no text", "pages_without_text"),
    ]
]

# In the browser our keys carry a prefix: Gradio also translates any plain label that
# equals a key, and a conversation titled "send" must not turn into "发送".
KEY_PREFIX = "docchat:"
I18N = gr.I18n(**{
    LOCALES[lang]: {**{KEY_PREFIX + key: text for key, text in TRANSLATIONS[lang].items()}, **GRADIO_GAPS[lang]}
    for lang in LANGUAGES
})


def L(key: str) -> Any:
    """A static component text, translated in the browser (a ``gr.I18n`` key).

    Only for text without ``{placeholders}``: the browser fills in nothing.
    """
    if key not in EN:
        raise KeyError(f"no UI string {key!r} in ui/i18n.py")
    return I18N(KEY_PREFIX + key)


def normalize(lang: str | None) -> str:
    """'zh', 'zh-CN', 'zh-Hant-TW' → 'zh'; anything else → 'en'."""
    return "zh" if str(lang or "").strip().lower().startswith("zh") else DEFAULT_LANGUAGE


def t(lang: str | None, key: str, **params: Any) -> str:
    """The text of ``key`` in ``lang`` with its ``{placeholders}`` filled in."""
    table = TRANSLATIONS[normalize(lang)]
    text = table.get(key, EN[key])
    return text.format(**params) if params else text


def status_text(lang: str | None, status: str) -> str:
    """A document status ('ready', 'failed', …) as a person reads it."""
    key = f"status_{status}"
    return t(lang, key) if key in EN else status


def stage_text(lang: str | None, stage: str) -> str:
    """An indexing stage reported by the knowledge base ('reading pages', 'OCR', …)."""
    key = f"stage_{stage}"
    return t(lang, key) if key in EN else stage


def known_error(lang: str | None, message: str) -> str | None:
    """A loader / knowledge-base message (English, as stored) said in ``lang``; None if unknown."""
    message = str(message or "").strip()
    for pattern, key in ERROR_PATTERNS:
        match = pattern.match(message)
        if match:
            return t(lang, key, **match.groupdict())
    return None


def error_text(lang: str | None, message: str) -> str:
    """A per-file error of the loader (English, as stored) in ``lang``.

    English keeps the loader's own words, with their technical detail; Chinese says the
    known messages again, and for an unknown one keeps the file name and says "could not
    be indexed", so the Chinese UI never shows an English sentence.
    """
    message = str(message or "").strip()
    if normalize(lang) == "en":
        return message
    known = known_error(lang, message)
    if known is not None:
        return known
    name, sep, _ = message.partition(": ")
    return t(lang, "pdf_failed", name=name) if sep else t(lang, "ingest_failed")
