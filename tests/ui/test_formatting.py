"""How sources, documents and conversations look on screen: pure functions, no Gradio runtime."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from rag.types import IngestResult, Source
from ui import formatting


@dataclass
class Doc:
    id: str
    filename: str
    status: str
    pages: int
    chunks: int
    error: str | None = None


@pytest.fixture
def sources() -> list[Source]:
    return [
        Source("d1", "report.pdf", 3, "Revenue grew   12% in\n2023.", 0.9, "d1:3:0"),
        Source("d2", "汉服.pdf", 1, "汉服是汉族的传统服饰。", 0.7, "d2:1:0"),
    ]


def test_sources_are_numbered_in_the_order_the_model_saw_them(sources):
    text = formatting.sources_markdown(sources)
    assert text == (
        "**[1]** report.pdf · p. 3\n> Revenue grew 12% in 2023.\n\n"
        "**[2]** 汉服.pdf · p. 1\n> 汉服是汉族的传统服饰。"
    )


def test_sources_accept_stored_dicts(sources):
    assert formatting.sources_markdown([s.to_dict() for s in sources]) == formatting.sources_markdown(sources)


def test_no_sources_shows_the_empty_hint():
    assert formatting.sources_markdown([]) == formatting.EMPTY_SOURCES
    assert formatting.sources_markdown(None) == formatting.EMPTY_SOURCES


def test_pdf_text_in_sources_cannot_inject_markdown():
    text = formatting.sources_markdown([Source("d", "a_b.pdf", 1, "# Title *bold* [link](http://x)", 1.0)])
    assert text == "**[1]** a\\_b.pdf · p. 1\n> \\# Title \\*bold\\* \\[link\\]\\(http://x\\)"


def test_snippet_is_cut_on_a_word_with_an_ellipsis():
    assert formatting.snippet("alpha beta gamma delta", limit=13) == "alpha beta…"
    assert formatting.snippet("short   text") == "short text"


def test_source_label_matches_the_citation_mark(sources):
    assert formatting.source_label(2, sources[1]) == "[2] 汉服.pdf p. 1"


def test_documents_list_shows_file_pages_chunks_status_and_error():
    html = formatting.documents_html(
        [Doc("1", "a.pdf", "ready", 12, 40), Doc("2", "<bad>.pdf", "failed", 0, 0, "not a PDF")]
    )
    assert (
        "<li class='doc' data-status='ready'><div class='doc-name' title='a.pdf'>a.pdf</div>"
        "<div class='doc-meta'><span class='pages'>12</span> pages · <span class='chunks'>40</span> chunks · "
        "<span class='status status-ready'>ready</span></div></li>"
    ) in html
    assert "&lt;bad&gt;.pdf" in html and "<bad>" not in html
    assert "<div class='doc-error'>not a PDF</div>" in html


def test_empty_library_tells_the_user_to_upload():
    assert formatting.EMPTY_DOCUMENTS in formatting.documents_html([])


def test_only_ready_documents_can_be_selected_but_any_can_be_removed():
    docs = [Doc("1", "a.pdf", "ready", 1, 1), Doc("2", "b.pdf", "indexing", 0, 0), Doc("3", "c.pdf", "failed", 0, 0)]
    assert formatting.document_choices(docs) == [("a.pdf", "1")]
    assert formatting.removable_choices(docs) == [("a.pdf", "1"), ("b.pdf (indexing)", "2"), ("c.pdf (failed)", "3")]


def test_stored_messages_become_chatbot_messages_without_system_ones():
    stored = [
        {"role": "system", "content": "x"},
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello [1]", "sources": [{"filename": "a.pdf", "page": 2}]},
    ]
    assert formatting.chat_messages(stored) == [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": "hello [1]"},
    ]
    assert formatting.last_answer_sources(stored) == [{"filename": "a.pdf", "page": 2}]


def test_a_stopped_answer_says_so():
    stored = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "Once upon", "status": "partial"}]
    assert formatting.chat_messages(stored)[-1]["content"] == "Once upon *(stopped)*"


def test_message_text_reads_gradio_normalized_content():
    assert formatting.message_text([{"type": "text", "text": "a"}, {"type": "text", "text": "b"}]) == "ab"
    assert formatting.message_text("plain") == "plain"


def test_untitled_conversations_get_a_readable_title():
    assert formatting.conversation_choices([{"id": "c1", "title": ""}, {"id": "c2", "title": "Prices"}]) == [
        (formatting.NEW_CHAT_TITLE, "c1"),
        ("Prices", "c2"),
    ]


def test_ingest_summary_splits_successes_from_problems():
    infos, warnings = formatting.ingest_summary(
        [
            IngestResult("1", "a.pdf", "ready", 3, 9),
            IngestResult("1", "a.pdf", "duplicate", 3, 9),
            IngestResult(None, "b.pdf", "failed", error="The PDF needs a password."),
            IngestResult(None, "d.pdf", "failed", error="d.pdf: not a PDF file"),
            IngestResult("2", "c.pdf", "ready", 1, 1, warnings=["page 1 had no text; OCR used"]),
        ]
    )
    assert infos == ["a.pdf: ready (3 pages, 9 chunks)", "a.pdf: already in the library", "c.pdf: ready (1 pages, 1 chunks)"]
    assert warnings == [
        "b.pdf: The PDF needs a password.", "d.pdf: not a PDF file", "c.pdf: page 1 had no text; OCR used",
    ]


def test_progress_covers_finished_files_and_the_current_stage():
    assert formatting.progress_fraction(1, 2, 5, 10) == pytest.approx(0.25)
    assert formatting.progress_fraction(2, 2, 10, 10) == pytest.approx(1.0)
    assert formatting.progress_fraction(1, 1, 0, 0) == 0.0
    assert formatting.progress_description("a.pdf", 2, 3, "embedding", 4, 8) == "a.pdf (2/3): embedding 4/8"
    assert formatting.progress_description("a.pdf", 1, 1, "reading pages", 0, 0) == "a.pdf: reading pages"


def test_model_info_names_both_models_and_the_device():
    assert formatting.model_info_markdown("SmolLM2", "MiniLM", "cpu") == (
        "**Chat** `SmolLM2` · **Embeddings** `MiniLM` · **Device** `cpu`"
    )


def test_a_source_line_names_the_statement_or_innermost_heading_of_its_page():
    statement = Source("d", "a.pdf", 54, "Revenue 17,606", 1.0, section="Consolidated Statements of Income")
    heading = {"filename": "b.pdf", "page": 3, "text": "x", "section": "PART I › Item 1A. Risk Factors"}
    assert formatting.sources_markdown([statement, heading]) == (
        "**[1]** a.pdf · p. 54 · Consolidated Statements of Income\n> Revenue 17,606\n\n"
        "**[2]** b.pdf · p. 3 · Item 1A. Risk Factors\n> x")
    assert formatting.source_place({"page": 2, "section": None}, "zh") == "第 2 页"
