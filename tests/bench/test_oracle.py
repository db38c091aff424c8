"""The oracle system of bench/answers.py: docchat's own turn, with the gold pages' chunks as
its passages. It must keep working as the turn grows (it broke once when the turn began to
read the document list for questions about the collection)."""

from __future__ import annotations

from bench.answers import GoldPassages, _oracle
from bench.data import FinanceQuestion, GoldPage
from llm.types import GenerationParams
from tests.fakes import FakeChatBackend
from tests.pdfs import make_pdf

PAGES = ["The lighthouse keeper logs the weather every morning.",
         "Net sales of the kite shop rose to 48.2 million dollars in 2023.",
         "The ferry leaves the harbour at seven."]


def test_the_oracle_answers_from_the_gold_page_only(tmp_path, make_services):
    fake = FakeChatBackend()
    fake.enqueue(["Net sales rose to $48.2 million [1]."])
    services = make_services(llm=fake)
    services.knowledge_base.add_file(make_pdf(tmp_path / "kites.pdf", PAGES), "kites.pdf")
    question = FinanceQuestion("q1", "kites", "What were the kite shop's net sales in 2023?", "$48.2 million",
                               {GoldPage("kites", 2)})

    answer = _oracle(services.pipeline, GoldPassages(services.knowledge_base), GenerationParams(max_new_tokens=32), question)

    assert answer is not None and not answer.failed
    assert answer.text == "Net sales rose to $48.2 million [1]."
    assert answer.pages == [GoldPage("kites", 2)]
    prompt = "\n".join(m["content"] for m in fake.calls_of("stream")[-1].messages)
    assert "48.2 million dollars" in prompt
    assert "lighthouse" not in prompt and "ferry" not in prompt


def test_a_question_without_gold_text_has_no_oracle_answer(tmp_path, make_services):
    services = make_services(llm=FakeChatBackend())
    services.knowledge_base.add_file(make_pdf(tmp_path / "kites.pdf", PAGES), "kites.pdf")
    question = FinanceQuestion("q2", "kites", "Who owns the kite shop?", "", {GoldPage("kites", 9)})
    assert _oracle(services.pipeline, GoldPassages(services.knowledge_base), GenerationParams(), question) is None
