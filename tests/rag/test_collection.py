"""rag/collection.py: questions about the collection, recognised and answered (pure parts)."""

from dataclasses import dataclass

import pytest

from rag.collection import (
    MAP_SYSTEM_EN,
    CollectionQuestion,
    classify,
    list_answer,
    mentioning,
    mentions_answer,
    named_documents,
    page_sources,
    parts_within,
    summary_sources,
)
from rag.types import Chunk, Source
from tests.fakes import FakeChatBackend


@dataclass
class Doc:
    id: str
    filename: str
    status: str = "ready"
    pages: int = 3
    created_at: str = "2026-12-01T10:00:00.000000+00:00"


DOCS = [Doc("h", "hdfs.pdf", pages=12), Doc("c", "CAR-T_review.pdf", pages=1), Doc("z", "Enco_zh_0.pdf"),
        Doc("f", "broken.pdf", status="failed", pages=0)]


@pytest.mark.parametrize("question", ["What documents do I have?", "which files are uploaded?",
                                      "List all my documents", "How many PDFs are there?", "how many files do I have", "我有哪些文档？",
                                      "列出所有文件", "现在有几份文档？"])
def test_listing_questions(question):
    assert classify(question, DOCS) == CollectionQuestion("list")


@pytest.mark.parametrize("question, topic", [
    ("Which documents mention goodwill impairment?", "goodwill impairment"),
    ("What files talk about \"block replication\"?", "block replication"),
    ("哪些文档提到了数字金融？", "数字金融"),
])
def test_which_documents_mention(question, topic):
    assert classify(question, DOCS) == CollectionQuestion("mentions", topic=topic)


def test_a_summary_of_a_named_file_or_of_the_only_document():
    assert classify("Summarise hdfs.pdf in three sentences.", DOCS) == CollectionQuestion("summary", document_id="h")
    assert classify("总结一下 Enco_zh_0.pdf 的主要结论", DOCS) == CollectionQuestion("summary", document_id="z")
    assert classify("What is CAR-T_review about?", DOCS) == CollectionQuestion("summary", document_id="c")
    only = [DOCS[0]]
    assert classify("这份文档讲了什么？", only) == CollectionQuestion("summary", document_id="h")
    assert classify("用三句话总结主要内容。", only) == CollectionQuestion("summary", document_id="h")
    assert classify("Summarise the document.", DOCS, selected=["c"]) == CollectionQuestion("summary", document_id="c")


def test_ordinary_and_ambiguous_questions_are_left_to_retrieval():
    assert classify("How does HDFS replicate blocks?", DOCS) is None
    assert classify("How many reports did the company file in 2023?", DOCS) is None
    assert classify("How many papers did the author publish?", DOCS) is None
    assert classify("Summarise the document.", DOCS) is None  # four documents: which one?
    assert classify("What is the summary compensation table's total for the CEO?", DOCS) is None


def test_named_documents_match_whole_file_names_only():
    assert [d.id for d in named_documents("In hdfs.pdf, what is the block size?", DOCS)] == ["h"]
    assert [d.id for d in named_documents("what does hdfs say", DOCS)] == ["h"]
    assert named_documents("what about hdfsx or my-hdfs?", DOCS) == []
    assert named_documents("broken.pdf?", DOCS) == []  # failed: nothing to search


def test_list_answer_is_exact_in_both_languages():
    assert list_answer(DOCS[:2], "What documents do I have?") == (
        "You have 2 documents:\n1. CAR-T_review.pdf — 1 page, added 2026-12-01, ready\n"
        "2. hdfs.pdf — 12 pages, added 2026-12-01, ready")
    assert list_answer([DOCS[3]], "我有哪些文档？") == "您有 1 份文档：\n1. broken.pdf — 0 页，添加于 2026-12-01，失败"
    assert list_answer([], "What files do I have?") == "You have no documents yet."


def _src(doc, page, text):
    return Source(document_id=doc, filename=f"{doc}.pdf", page=page, text=text, score=1.0)


def test_a_document_mentions_a_topic_only_when_a_passage_holds_its_words():
    sources = [_src("a", 4, "Goodwill impairment testing is done yearly."),
               _src("b", 2, "Intangible assets were written down."),  # similar meaning, other words
               _src("a", 9, "No goodwill impairment was recorded in 2023."),
               _src("c", 1, "Impairment of goodwill: none.")]
    hits = mentioning("goodwill impairment", sources)
    assert [[(s.document_id, s.page) for s in group] for group in hits] == [[("a", 4), ("a", 9)], [("c", 1)]]
    answer = mentions_answer("goodwill impairment", hits, "Which documents mention goodwill impairment?")
    assert answer.text == ("2 documents mention “goodwill impairment”:\n1. a.pdf — pages 4, 9 [1]\n"
                           "2. c.pdf — pages 1 [2]")
    assert [(s.document_id, s.page) for s in answer.sources] == [("a", 4), ("c", 1)]
    assert mentions_answer("parrots", [], "哪些文档提到了鹦鹉？").text == "您的文档中没有提到“parrots”。"


def _chunks(pages):
    return [Chunk(id=f"d:{p}:{i}", document_id="d", filename="d.pdf", page=p, page_end=p, index=i, text=t)
            for p, texts in pages.items() for i, t in enumerate(texts)]


def test_pages_group_into_parts_that_fit_the_budget():
    sources = page_sources(_chunks({2: ["two words"], 1: ["one", "more words here"], 3: ["a b c d e"]}))
    assert [(s.page, s.text) for s in sources] == [(1, "one\nmore words here"), (2, "two words"), (3, "a b c d e")]
    count = lambda text: len(text.split())  # noqa: E731
    assert [[s.page for s in part] for part in parts_within(sources, count, 6)] == [[1, 2], [3]]


def test_a_document_that_fits_is_its_own_passages_and_one_that_does_not_is_summarised_by_part():
    llm = FakeChatBackend()
    chunks = _chunks({1: ["alpha " * 15], 2: ["beta " * 5], 3: ["gamma " * 5]})
    assert [s.page for s in summary_sources(llm, chunks, "Summarise d.pdf", budget=100)] == [1, 2, 3]
    assert llm.calls == []
    llm.enqueue(["Part one says alpha."])
    llm.enqueue(["Part two says beta and gamma."])
    seen = []
    parts = summary_sources(llm, chunks, "Summarise d.pdf", budget=16, progress=lambda d, t: seen.append((d, t)))
    assert [(s.page, s.text) for s in parts] == [(1, "p. 1: Part one says alpha."),
                                                 (2, "pp. 2–3: Part two says beta and gamma.")]
    assert [c.messages[0]["content"] for c in llm.calls] == [MAP_SYSTEM_EN, MAP_SYSTEM_EN]
    assert seen == [(0, 2), (1, 2), (2, 2)]
