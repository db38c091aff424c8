"""The calculator in a turn (rag/strategies/compute.py): generation stops at </calc>, docchat
evaluates the expression, checks its operands against the passages, writes the result and
the model goes on from its KV cache; the reader sees the expression and its result, and
every surface gets the same ``calculations``."""

from __future__ import annotations

import threading

import pytest

from llm.stop_strings import StopStringFilter, show_until_stop
from llm.types import GenerationParams, TextStream, Usage
from rag.calculator import CALC_CLOSE
from rag.strategies import ComputeStrategy, RetrieveThenAnswer, choose
from rag.strategies.compute import CALC_INSTRUCTIONS_EN, TagFilter, inline_expression, open_calculation
from rag.types import TurnRequest
from tests.pdfs import make_pdf
from tests.rag.test_citations import QuotingBackend, scripted_turn

STATEMENT = [
    "Harbor Lamp Company. Consolidated Statements of Operations (in millions). "
    "Net sales 2023: 4,396. Net sales 2022: 3,921. Cost of sales 2023: 2,610.",
    "Employees and sites. Harbor Lamp Company employs 212 people at two factories in Portland and Halifax.",
]


@pytest.mark.parametrize("pieces", [
    ["Growth was <calc>(4,396 - 3,921)", " / 3,921 * 100</calc> = 12.11%."],
    ["Growth was <ca", "lc>(4,396 - 3,921) / 3,921 * 100</ca", "lc> = 12.11%."],
    ["Growth was <", "calc", ">(4,396 - 3,921) / 3,921 * 100<", "/calc> = 12.11%", "."],
])
def test_the_reader_sees_the_expression_without_its_tags_however_the_deltas_are_cut(pieces):
    shown = TagFilter()
    text = "".join(shown.feed(p) for p in pieces) + shown.flush()
    assert text == "Growth was (4,396 - 3,921) / 3,921 * 100 = 12.11%."


def test_an_open_calculation_is_found_only_until_it_is_closed():
    assert open_calculation("Growth was <calc>(4,396 - 3,921) / 3,921") == "(4,396 - 3,921) / 3,921"
    assert open_calculation("Growth was <calc>1 + 2</calc> = 3 and") is None
    assert open_calculation("No calculation here.") is None


@pytest.mark.parametrize("text, expression", [
    ("The average is $34,616 / 2 ", "$34,616 / 2"),
    ("Margin: (141,885 / 305,826) * 100 ", "(141,885 / 305,826) * 100"),
    ("so ((4,396 - 3,921) / 3,921) * 100 ", "((4,396 - 3,921) / 3,921) * 100"),
    ("COGS for FY2017 is $118,573 - $71,651 ", "$118,573 - $71,651"),
    ("Gross margin ", None),                      # a definition, not a calculation
    ("The ratio is 1.82 ", None),                 # one figure
    ("Filed on 12/31/2022 ", None),               # a date
    ("growth (in percent) ", None),
])
def test_the_arithmetic_a_model_writes_before_an_equals_sign_is_found(text, expression):
    assert inline_expression(text) == expression


class CalculatingBackend(QuotingBackend):
    """A scripted model for this logic test: its answer is ``segments`` — each round it writes
    the next one, cut at the request's stop strings as a real backend does — and it records
    each request's ``assistant_prefix`` (what it was asked to continue). Token counting is
    the real bundled model's."""

    def __init__(self, real, segments: list[str], engine: str = "fake") -> None:
        super().__init__(real)
        self.segments, self.requests, self.engine = list(segments), [], engine

    def stream(self, messages, params: GenerationParams, cancel: threading.Event | None = None) -> TextStream:
        self.requests.append((messages, params))
        segment = self.segments.pop(0) if self.segments else ""
        stops = StopStringFilter(params.stop)
        usage = Usage(prompt_tokens=100 + len(params.assistant_prefix), completion_tokens=len(segment) // 4,
                      cached_prompt_tokens=len(params.assistant_prefix) + 95)
        pieces = [segment[i:i + 4] for i in range(0, len(segment), 4)]

        def deltas():
            yield from show_until_stop(iter(pieces), stops, threading.Event())
            usage.stopped_by = stops.hit  # as the local backends report it

        return TextStream(deltas(), usage)


def test_a_turn_computes_checks_the_operands_and_continues_the_answer(make_services, bundled_backend, tmp_path):
    pdf = make_pdf(tmp_path / "harbor.pdf", STATEMENT)
    backend = CalculatingBackend(bundled_backend, [
        "Net sales grew <calc>(4,396 - 3,921) / 3,921 * 100</calc> = 99 (a model would go on)",
        "% from 2022 to 2023 [1].",
    ])
    services, streamed, result = scripted_turn(make_services, backend, pdf, "By how much did net sales grow in 2023?")
    assert streamed == result.text == "Net sales grew (4,396 - 3,921) / 3,921 * 100 = 12.11% from 2022 to 2023 [1]."
    # the second request continues the first answer, the result written after the expression
    (first_messages, first), (second_messages, second) = backend.requests
    assert CALC_CLOSE in first.stop and first.assistant_prefix == ""
    assert second.assistant_prefix == "Net sales grew <calc>(4,396 - 3,921) / 3,921 * 100</calc> = 12.11"
    assert second_messages == first_messages and second.cache_key == first.cache_key is not None
    assert CALC_INSTRUCTIONS_EN in first_messages[0]["content"]
    statement = next(i for i, s in enumerate(result.sources, start=1) if "4,396" in s.text)
    [calc] = result.calculations
    assert calc["ok"] and calc["flag"] is None and abs(calc["result"] - 12.1142) < 1e-3
    assert [(o["value"], o["source"]) for o in calc["operands"]] == [(4396, statement), (3921, statement), (3921, statement)]
    stored = services.history.get_messages("u", result.conversation_id)[-1]
    assert stored.content == result.text and stored.calculations == result.calculations
    assert result.strategy == "compute"


def test_a_made_up_operand_is_flagged_and_never_shown_as_checked(make_services, bundled_backend, tmp_path):
    pdf = make_pdf(tmp_path / "harbor.pdf", STATEMENT)
    backend = CalculatingBackend(bundled_backend, [
        "Net sales grew <calc>(4,397 - 3,921) / 3,921 * 100</calc>", "% [1].",
    ])
    _, streamed, result = scripted_turn(make_services, backend, pdf, "By how much did net sales grow in 2023?")
    [calc] = result.calculations
    assert not calc["ok"] and "4,397" in calc["flag"]
    assert [o["source"] for o in calc["operands"]][0] is None
    assert streamed.startswith("Net sales grew (4,397 - 3,921) / 3,921 * 100 = 12.14%")


def test_a_broken_expression_is_a_failed_calculation_and_the_answer_goes_on(make_services, bundled_backend, tmp_path):
    pdf = make_pdf(tmp_path / "harbor.pdf", STATEMENT)
    backend = CalculatingBackend(bundled_backend, [
        "Net sales grew <calc>(4,396 - 3,921) / (3,921 - 3,921)</calc>", " so it cannot be said [1].",
    ])
    _, streamed, result = scripted_turn(make_services, backend, pdf, "By how much did net sales grow in 2023?",
                                grounding_check=False)
    [calc] = result.calculations
    assert calc["result"] is None and not calc["ok"] and calc["flag"]
    assert "(calculation failed)" in streamed and streamed.endswith("so it cannot be said [1].")
    assert "Traceback" not in streamed


def test_a_question_that_calls_for_no_arithmetic_gets_the_plain_instructions(make_services, bundled_backend, tmp_path):
    """Over a question about words the calculator's examples only made the 1.5B decline or copy
    their made-up figures: the prompt is the plain one (its KV saved as well); a figure the
    model still works out before an "=" is computed all the same."""
    pdf = make_pdf(tmp_path / "harbor.pdf", STATEMENT)
    backend = CalculatingBackend(bundled_backend, ["Harbor Lamp has factories in Portland and Halifax [2]."],
                                 engine="llama.cpp")
    _, streamed, result = scripted_turn(make_services, backend, pdf, "Where are Harbor Lamp's factories?")
    [(messages, params)] = backend.requests
    assert CALC_INSTRUCTIONS_EN not in messages[0]["content"] and "Cite only passages" in messages[0]["content"]
    assert CALC_CLOSE in params.stop and "=" in params.stop
    assert result.strategy == "compute" and streamed == "Harbor Lamp has factories in Portland and Halifax [2]."


def test_with_the_calculator_off_the_model_answers_as_before(make_services, bundled_backend, tmp_path):
    pdf = make_pdf(tmp_path / "harbor.pdf", STATEMENT)
    backend = CalculatingBackend(bundled_backend, ["Net sales grew by about 12% [1]."])
    _, streamed, result = scripted_turn(make_services, backend, pdf, "By how much did net sales grow in 2023?",
                                calculator=False)
    [(messages, params)] = backend.requests
    assert CALC_CLOSE not in params.stop and CALC_INSTRUCTIONS_EN not in messages[0]["content"]
    assert result.calculations == [] and result.strategy == "retrieve"


def test_the_strategy_is_chosen_in_one_place(make_services, bundled_backend, tmp_path):
    from services import build_services
    from settings import Settings

    services = make_services()
    pdf = make_pdf(tmp_path / "harbor.pdf", STATEMENT)
    services.knowledge_base.add_file(pdf, pdf.name)
    for calculator, expected in ((True, ComputeStrategy), (False, RetrieveThenAnswer)):
        built = build_services(Settings(data_dir=services.settings.data_dir, calculator=calculator),
                               llm=bundled_backend, embedder=services.embedder)
        try:
            stream = built.pipeline.stream_turn(TurnRequest("u", "What were net sales?"))
            assert type(choose(stream._turn)) is expected
            listing = built.pipeline.stream_turn(TurnRequest("u", "What documents do I have?"))
            assert choose(listing._turn).name == "collection"
            chat = built.pipeline.stream_turn(TurnRequest("u", "Hello", use_rag=False))
            assert choose(chat._turn).name == "chat"
        finally:
            built.close()


def test_arithmetic_written_without_the_form_is_computed_by_docchat(make_services, bundled_backend, tmp_path):
    """A local engine stops at "=" too: when the text before it is arithmetic, docchat writes
    the result; when it is not ("Gross margin ="), the "=" is the model's and it goes on."""
    pdf = make_pdf(tmp_path / "harbor.pdf", STATEMENT)
    backend = CalculatingBackend(bundled_backend, [
        "Gross margin = gross profit / net sales. It was (4,396 - 2,610) / 4,396 * 100 = 99 (the model's guess)",
        " gross profit / net sales. It was (4,396 - 2,610) / 4,396 * 100 = 99 (the model's guess)",
        "% in 2023 [1].",
    ], engine="llama.cpp")
    _, streamed, result = scripted_turn(make_services, backend, pdf, "What was the gross margin in 2023?")
    assert streamed == result.text == ("Gross margin = gross profit / net sales. It was (4,396 - 2,610) / 4,396 * 100"
                                       " = 40.63% in 2023 [1].")
    assert [r[1].assistant_prefix for r in backend.requests][1:] == [
        "Gross margin =",
        "Gross margin = gross profit / net sales. It was (4,396 - 2,610) / 4,396 * 100 = 40.63"]
    [calc] = result.calculations
    assert calc["ok"] and calc["expression"] == "(4,396 - 2,610) / 4,396 * 100"


def test_a_remote_engine_is_not_stopped_at_equals(make_services, bundled_backend, tmp_path):
    pdf = make_pdf(tmp_path / "harbor.pdf", STATEMENT)
    backend = CalculatingBackend(bundled_backend, ["Net sales were 4,396 - 3,921 = 475 million higher [1]."],
                                 engine="OpenAI-compatible server")
    _, streamed, result = scripted_turn(make_services, backend, pdf, "How much higher were net sales in 2023?")
    assert "=" not in backend.requests[0][1].stop and result.calculations == []


def test_an_answer_whose_only_claim_is_a_figure_printed_nowhere_is_replaced(make_services, bundled_backend, tmp_path):
    """'3.47' is no full stop: a one-sentence answer stating a ratio no passage prints and no
    calculation gave is the abstention (the same figure beside checked claims is only flagged)."""
    pdf = make_pdf(tmp_path / "harbor.pdf", STATEMENT)
    backend = CalculatingBackend(bundled_backend, ["The operating cash flow ratio was 3.47 [1]."])
    _, streamed, result = scripted_turn(make_services, backend, pdf, "What was the operating cash flow ratio?")
    assert result.text == "Not in your documents." and result.replaced and result.unaccounted == ["3.47"]
    assert result.model_text == "The operating cash flow ratio was 3.47 [1]."


def test_a_figure_printed_nowhere_beside_checked_claims_is_flagged(make_services, bundled_backend, tmp_path):
    pdf = make_pdf(tmp_path / "harbor.pdf", STATEMENT)
    backend = CalculatingBackend(bundled_backend, ["Net sales were 4,396 million in 2023 [1]. The ratio was 3.47 [1]."])
    _, _, result = scripted_turn(make_services, backend, pdf, "What were net sales and the ratio?")
    assert not result.replaced and result.unaccounted == ["3.47"]
    assert "Figures not found in the passages: 3.47." in result.warnings
