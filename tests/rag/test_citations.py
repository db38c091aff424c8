"""Inline citations: dangling marks removed (also mid-stream), cited sources flagged,
each cited sentence checked against its passage; then the same through a real turn."""

from __future__ import annotations

import re
import threading

import pytest

from llm.types import GenerationParams, TextStream, Usage
from rag.citations import MarkFilter, annotate, clean_marks, figures, mark_numbers, split_sentences
from rag.types import TurnRequest
from rag.types import Source
from tests.pdfs import make_pdf

SKIRT = ("The mamianqun, or horse-face skirt, has flat front and back panels with pleats at the sides. "
         "It became popular during the Ming dynasty.")
TEA = "Heat the water to about eighty degrees Celsius before you pour it. Boiling water makes green tea bitter."


def source(text: str, page: int) -> Source:
    return Source("doc", "notes.pdf", page, text, 1.0, f"doc:{page}:{page}")


def test_marks_outside_the_sources_are_removed_and_valid_ones_kept():
    text = "Pleats at the sides [1]. Popular in Ming [1, 4]. Invented [7]. Tea [2][9]."
    assert clean_marks(text, 2) == "Pleats at the sides [1]. Popular in Ming [1]. Invented. Tea [2]."
    assert mark_numbers("a [2] b [1，3] c [2]") == [2, 1, 3]


@pytest.mark.parametrize("pieces", [
    ["Hello [", "1", "] world [", "9] end [2", ", 5]", " tail"],
    ["Hello [1] wor", "ld [9", "] end [2, 5] tail"],
    ["Hello [1] world [9] end [2, 5] tail"],
])
def test_stream_filter_gives_the_same_text_however_the_deltas_are_cut(pieces):
    marks = MarkFilter(2)
    shown = "".join(marks.feed(p) for p in pieces) + marks.flush()
    assert shown == "Hello [1] world end [2] tail"


def test_stream_filter_lets_other_brackets_through_at_once():
    marks = MarkFilter(2)
    assert marks.feed("see [note] and [a") == "see [note] and [a"


def test_figures_are_the_numbers_a_claim_states():
    assert figures("PP&E was $12,645 [3] in FY2018; 24.6% in 2022, Q4 had 3 stores; 营收增长85.7%，第7~21天") == {
        "12645", "24.6", "85.7", "21"}  # not the mark, the year, FY2018, Q4 or a single digit


FILINGS = ["Net property, plant and equipment 12,645 10,844", "Revenue 101,127 93,392 and 2018",
           "Total assets 117,359; property 12,645"]


@pytest.mark.parametrize("pieces", [
    ["Net PP&E was 12,645 [3]. Revenue was 101,127. [1] It grew [2]."],
    ["Net PP&E was 12,6", "45 [", "3]. Revenue was 101,127.", " [1", "] It grew [2]."],
])
def test_a_mark_moves_to_the_passage_that_prints_its_figures(pieces):
    marks = MarkFilter(3, FILINGS)
    shown = "".join(marks.feed(p) for p in pieces) + marks.flush()
    # 12,645 is in [3] too: kept; 101,127 is only in [2]; a claim without figures keeps its mark
    assert shown == "Net PP&E was 12,645 [3]. Revenue was 101,127. [2] It grew [2]."
    assert MarkFilter(3).feed("Revenue was 101,127 [1].") == "Revenue was 101,127 [1]."  # no passages: as written


def test_a_moved_mark_goes_to_the_best_ranked_passages_that_print_its_figures():
    found = [figures(p) for p in FILINGS]
    text = "PP&E rose from 10,844 to 12,645 [2]; assets were 117,359 [1, 2]."
    assert clean_marks(text, 3, found) == "PP&E rose from 10,844 to 12,645 [1]; assets were 117,359 [3]."
    # figures read in two passages: the cited one that prints one of them stays, the other joins it
    assert clean_marks("Revenue was 93,392 and assets 117,359 [2].", 3, found) == (
        "Revenue was 93,392 and assets 117,359 [2, 3].")
    assert clean_marks("Revenue was 5,000 [1].", 3, found) == "Revenue was 5,000 [1]."  # printed nowhere
    # each mark stands for the clause since the previous one
    assert clean_marks("Revenue was 101,127 [1] and assets 117,359 [1].", 3, found) == (
        "Revenue was 101,127 [2] and assets 117,359 [3].")
    assert clean_marks("Net PP&E was 12,645. [1][2]", 3, found) == "Net PP&E was 12,645. [1]"  # no [1][1]


def test_sentences_keep_the_marks_after_their_full_stop():
    assert split_sentences("Red skirts. [1] Green tea [2]. 汉服很美。[1] Last") == [
        "Red skirts. [1]", "Green tea [2].", "汉服很美。[1]", "Last"]


def test_cited_sentences_are_checked_against_their_passage(embedder):
    answer = ("The horse-face skirt became popular during the Ming dynasty [1]. "
              "Pandas eat bamboo in Sichuan [2]. Tea likes water at eighty degrees [2].")
    skirt, tea, unused = annotate(answer, [source(SKIRT, 1), source(TEA, 2), source("Unused.", 3)], embedder)
    assert (skirt.cited, skirt.supported) == (True, True)
    assert tea.cited and tea.supported is False  # one of its two sentences is not on its page
    assert [c["supported"] for c in tea.claims] == [False, True]
    assert tea.claims[0]["sentence"] == "Pandas eat bamboo in Sichuan."
    assert (unused.cited, unused.supported, unused.claims) == (False, None, [])


def test_an_answer_without_marks_leaves_every_source_uncited(embedder):
    out = annotate("The skirt has pleats.", [source(SKIRT, 1)], embedder)
    assert (out[0].cited, out[0].supported) == (False, None)


def in_pieces(answer: str) -> TextStream:
    pieces = [answer[i:i + 3] for i in range(0, len(answer), 3)]
    return TextStream(iter(pieces), Usage(completion_tokens=len(pieces)))


def scripted_turn(make_services, backend, pdf, question: str, k: int = 2, **settings):
    """One turn over ``pdf`` answered by a scripted ``backend`` from the ``k`` passages search
    returns: (services, streamed text, result)."""
    from services import build_services
    from settings import Settings

    services = make_services()
    assert services.knowledge_base.add_file(pdf, pdf.name).status == "ready"
    scripted = build_services(Settings(data_dir=services.settings.data_dir, **settings), llm=backend,
                              embedder=services.embedder)
    try:
        stream = scripted.pipeline.stream_turn(TurnRequest("u", question, k=k))
        streamed = "".join(stream)
        return services, streamed, stream.result
    finally:
        scripted.close()


class QuotingBackend:
    """A scripted chat model for this logic test: it quotes the first sentence of passage
    [1] citing [1], invents a sentence citing [2], and cites a passage [9] that does not
    exist, streamed in small pieces. Token counting is the real model's."""

    def __init__(self, real) -> None:
        self.real = real
        self.name, self.context_window, self.device, self.engine = "quoting", real.context_window, "cpu", "fake"

    def stream(self, messages, params: GenerationParams, cancel: threading.Event | None = None) -> TextStream:
        context = messages[-1]["content"]  # the context block comes with the question, last
        first = re.search(r"\[1\] [^\n]*\n([^.]*\.)", context).group(1)
        return in_pieces(f"{first} [1]. Penguins run the bakery on weekends [2]. See also [9].")

    def complete(self, messages, params):
        return self.real.complete(messages, params)

    def count_tokens(self, messages):
        return self.real.count_tokens(messages)

    def count_text_tokens(self, text):
        return self.real.count_text_tokens(text)

    def truncate_text(self, text, max_tokens):
        return self.real.truncate_text(text, max_tokens)


def test_a_turn_returns_streams_and_stores_checked_citations(make_services, bundled_backend, tmp_path):
    pdf = make_pdf(tmp_path / "recipes.pdf", [
        # both pages share a word with the question, so both are sent (a page only one ranking
        # finds scores under half the first page's and is left out of the prompt, rag/pruning.py)
        "Sourdough bread. Feed the starter with flour and water the evening before baking. Fix the oven door first.",
        "Fixing a flat tyre. Find the puncture with soapy water, then patch the inner tube.",
    ])
    # grounding_check off: half of this answer is invented on purpose, to be flagged claim by claim
    services, streamed, result = scripted_turn(make_services, QuotingBackend(bundled_backend), pdf,
                                               "How do I fix a flat tyre?", grounding_check=False)
    assert "[9]" not in streamed and streamed == result.text
    assert result.text.endswith("[2]. See also.")
    first, second = result.sources
    assert (first.cited, first.supported) == (True, True)
    assert (second.cited, second.supported) == (True, False)
    stored = services.history.get_messages("u", result.conversation_id)[-1]
    assert stored.content == result.text
    assert [(s["cited"], s["supported"]) for s in stored.sources] == [(True, True), (True, False)]
    assert stored.sources[0]["chunk_id"] == first.chunk_id


class MisnumberingBackend(QuotingBackend):
    """Quotes the figure sentence of whichever passage holds "12.50" but cites the other one,
    as small models do; streamed in small pieces."""

    def stream(self, messages, params: GenerationParams, cancel: threading.Event | None = None) -> TextStream:
        context = "\n".join(m["content"] for m in messages)
        passages = re.findall(r"\[(\d)\] [^\n]*\n([^\n]*)", context)
        holder = next(n for n, text in passages if "12.50" in text)
        other = next(n for n, _ in passages if n != holder)
        return in_pieces(f"A tyre patch kit costs 12.50 euros [{other}].")


def test_a_turn_cites_the_passage_that_prints_the_figure(make_services, bundled_backend, tmp_path):
    pdf = make_pdf(tmp_path / "costs.pdf", [
        "Sourdough bread. The starter kit needs 450 grams of flour and 300 grams of water.",  # "kit": sent too
        "Fixing a flat tyre. A tyre patch kit costs 12.50 euros at the bicycle shop.",
    ])
    _, streamed, result = scripted_turn(make_services, MisnumberingBackend(bundled_backend), pdf,
                                        "What does a tyre patch kit cost?")
    holder = next(i for i, s in enumerate(result.sources, start=1) if "12.50" in s.text)
    assert streamed == result.text == f"A tyre patch kit costs 12.50 euros [{holder}]."
    assert [(s.cited, s.supported) for s in result.sources if s.page == 2] == [(True, True)]


def test_an_unmarked_answer_is_marked_where_one_passage_backs_each_sentence():
    from rag.citations import cite_unmarked

    passages = ["Basil needs warm soil and six hours of sun.", "Net sales were $1,250 million in fiscal 2023."]
    assert cite_unmarked("Net sales were $1,250 million in fiscal 2023. The moon is made of cheese.", passages) == (
        "Net sales were $1,250 million in fiscal 2023 [2]. The moon is made of cheese.")
    # a figure the passage does not print: no passage backs the sentence
    assert cite_unmarked("Net sales were $9,999 million in fiscal 2023.", passages) == (
        "Net sales were $9,999 million in fiscal 2023.")
    # an answer with any mark is the model's own; Chinese takes the mark before its full stop
    assert cite_unmarked("Basil needs sun [2].", passages) == "Basil needs sun [2]."
    assert cite_unmarked("罗勒需要温暖的土壤。", ["罗勒需要温暖的土壤和阳光。"]) == "罗勒需要温暖的土壤[1]。"
