"""What #sources and #source-viewer show, as plain values (no browser)."""

from __future__ import annotations

from rag.types import Source
from ui import source_viewer


def test_each_source_is_a_button_starting_with_its_mark_and_says_if_it_was_cited():
    sources = [
        Source("d1", "report.pdf", 4, "Revenue grew.", 1.0, "d1:4:2", cited=True, supported=True),
        Source("d1", "report.pdf", 7, "Costs fell.", 0.5, "d1:7:5", cited=False),
    ]
    html = source_viewer.sources_html(sources)
    assert html.count("class='source-item'") == 2
    assert "<b>[1]</b> report.pdf · p. 4</button>" in html and "<b>[2]</b> report.pdf · p. 7</button>" in html
    assert 'data-chunk="d1:4:2"' in html and 'data-page="7"' in html
    assert ">cited</span>" in html and ">not cited</span>" in html


def test_a_sentence_its_cited_page_does_not_back_is_flagged():
    source = Source("d", "a.pdf", 1, "Tea.", 1.0, "d:1:0", cited=True, supported=False,
                    claims=[{"sentence": "Pandas run the bakery.", "supported": False},
                            {"sentence": "Tea is green.", "supported": True}])
    html = source_viewer.sources_html([source])
    assert "not found on the cited page: “Pandas run the bakery.”" in html
    assert "Tea is green." not in html


def test_pdf_text_and_file_names_cannot_inject_html():
    html = source_viewer.sources_html([{"document_id": "d", "filename": "<img src=x>.pdf", "page": 1,
                                        "text": "<script>alert(1)</script>", "chunk_id": "d:1:0"}])
    assert "<script>" not in html and "<img src=x>" not in html


def test_stored_sources_of_older_versions_still_show():
    html = source_viewer.sources_html([{"filename": "old.pdf", "page": 2, "text": "x"}])
    assert "<b>[1]</b> old.pdf · p. 2" in html and "cited" not in html


def test_no_sources_shows_the_hint_and_a_selected_answer_without_sources_says_so():
    assert "Sources of the latest answer appear here" in source_viewer.sources_html([])
    assert "This answer has no sources." in source_viewer.sources_html([], "Sources of answer 2")


def test_viewer_has_steps_within_the_document_and_a_pdf_link_at_the_page():
    html = source_viewer.viewer_html("d", "a.pdf", 1, 3, "d:1:0", 1, "/img?x=1&y=2", "/file?s=1#page=1")
    assert "page 1 of 3" in html
    assert "<button class='viewer-step' type='button' disabled>‹ Previous page</button>" in html
    assert 'data-page="2"' in html and "Next page ›" in html
    assert "href='/file?s=1#page=1'" in html and "src='/img?x=1&amp;y=2'" in html


def test_the_turns_notes_stand_above_the_sources_in_the_tabs_language():
    from rag.types import SearchFocus

    source = {"document_id": "d", "filename": "shop.pdf", "page": 1, "text": "Returns within a month."}
    notes = source_viewer.turn_notes_html(SearchFocus(("shop.pdf",), only=True))
    assert notes == "<p class='sources-note'>Searched only shop.pdf: the question names it.</p>"
    page = source_viewer.sources_html([source], notes=notes)
    assert page.index("sources-note") < page.index("source-item")
    zh = source_viewer.turn_notes_html(SearchFocus(("a<b>.pdf",), only=False), replaced=True, lang="zh")
    assert zh == ("<p class='sources-note'>模型的回答在这些片段中找不到依据，所以 docchat 如实说明没有相关内容。</p>"
                  "<p class='sources-note'>优先检索了 a&lt;b&gt;.pdf：问题中提到了它。</p>")
    assert source_viewer.turn_notes_html() == ""
    assert "sources-note" not in source_viewer.sources_html([source])


def test_a_calculation_shows_its_result_and_each_operand_opens_its_page():
    sources = [Source("d1", "report.pdf", 54, "Net sales 4,396 3,921", 1.0, "d1:54:0"),
               Source("d1", "report.pdf", 12, "Employees 212", 0.5, "d1:12:3")]
    checked = {"expression": "(4,396 - 3,921) / 3,921 * 100", "result": 12.1142, "ok": True, "flag": None,
               "operands": [{"value": 4396.0, "source": 1, "text": "4,396"}, {"value": 3921.0, "source": 1}]}
    flagged = {"expression": "4,397 / 212", "result": 20.74, "ok": False,
               "flag": "figure not found in the passages: 4,397",
               "operands": [{"value": 4397.0, "source": None, "text": "4,397"}, {"value": 212.0, "source": 2}]}
    html = source_viewer.sources_html(sources, calculations=[checked, flagged])
    assert "<code>(4,396 - 3,921) / 3,921 * 100 = 12.11</code>" in html
    assert "every figure found in the passages" in html
    # an operand is a button that opens its passage's page, highlighted, like a source
    assert ("<button class='calc-operand source-item' type='button' data-kind=\"source\" data-n=\"1\" "
            "data-document=\"d1\" data-page=\"54\" data-chunk=\"d1:54:0\"") in html
    assert "4,396 <b>[1]</b> p. 54</button>" in html and "212 <b>[2]</b> p. 12</button>" in html
    assert "check this: figure not found in the passages: 4,397" in html and "⚠ 4,397</span>" in html
    zh = source_viewer.sources_html(sources, lang="zh", calculations=[checked])
    assert "计算（由 docchat 完成，而非模型）" in zh and "每个数字都在片段中找到" in zh
    assert "Calculations" not in source_viewer.sources_html(sources)  # none: no block


def test_figures_no_passage_prints_are_named_above_the_sources():
    notes = source_viewer.turn_notes_html(unaccounted=["$4.5 billion"])
    assert "no passage prints them and no calculation gave them: $4.5 billion" in notes
