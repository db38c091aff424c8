"""Questions about the collection itself — answered from the registry, not from chunks.

"What documents do I have?", "Which documents mention goodwill impairment?", "Summarise
hdfs.pdf", "这份文档讲了什么？": a chunk search answers none of them (it returns five passages
of whichever file scores best, and the model invents a list). Here they are recognised by
their wording (both languages, no model call) and answered from what the caller may see:

* list — the documents with pages, date and status, written without the model;
* mentions — a keyword search for the topic, grouped by document, one cited passage each;
* summary — the named file's pages (or, for "this document", the only one in scope) become
  the passages; when they do not fit the prompt, each part is summarised first
  (map-reduce) and the part summaries are the passages of the final answer.

A question that names a file ("in hdfs.pdf, what …") is searched in that file only
(``named_documents``); the turn says so in its warnings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable, Protocol, Sequence

from llm.types import ChatBackend, GenerationParams
from rag.citations import content_words
from rag.language import is_chinese
from rag.types import Chunk, Source

_DOCS_EN = r"(?:documents?|files?|pdfs?|docs?|papers?|reports?)"
_DOCS_ZH = r"(?:文档|文件|资料|PDF|pdf|报告|论文)"
_LIST = re.compile(
    rf"\b(?:what|which)\s+{_DOCS_EN}\s+(?:do\s+i\s+have|have\s+i\s+(?:uploaded|added)|are\s+(?:there|here|loaded|"
    rf"indexed|available|uploaded))|\blist\s+(?:all\s+)?(?:of\s+)?(?:my|the)\s+{_DOCS_EN}|\bhow\s+many\s+{_DOCS_EN}\s+(?:do\s+i\s+have|have\s+i|are\s+(?:there|here|loaded|indexed|uploaded))\b"
    rf"|(?:我|这里|现在|目前)?(?:有|上传了)哪些{_DOCS_ZH}|列出.*{_DOCS_ZH}|(?:多少|几)(?:个|份|篇){_DOCS_ZH}",
    re.IGNORECASE,
)
_MENTIONS = re.compile(
    rf"\b(?:which|what)\s+(?:of\s+(?:my|the)\s+)?{_DOCS_EN}\s+(?:mention|mentions|talk\s+about|discuss|cover|contain|"
    rf"refer\s+to|say\s+anything\s+about|are\s+about)\s+(?P<en>.+?)\s*[?？.!]*$"
    rf"|哪些{_DOCS_ZH}(?:里|中)?(?:提到|提及|讲到|谈到|涉及|包含|讨论|说到)了?(?P<zh>.+?)\s*[?？。!！]*$",
    re.IGNORECASE,
)
_SUMMARY = re.compile(
    r"\b(?:summari[sz]e|summary|sum\s+up|overview|tl;?dr|main\s+points|key\s+points|what\s+does\s+(?:this|the)\s+\w+\s+say)\b"
    r"|\bwhat\s+is\s+.{1,80}?\babout\s*[?？.]*$"
    r"|总结|概括|摘要|概述|讲了什么|说了什么|主要内容|主要结论|讲的是什么",
    re.IGNORECASE,
)
_THIS_DOCUMENT = re.compile(rf"\b(?:this|the|that)\s+{_DOCS_EN}\b|这(?:份|个|篇)?{_DOCS_ZH}|本文|全文", re.IGNORECASE)


class DocumentInfo(Protocol):
    id: str
    filename: str
    status: str
    pages: int
    created_at: str


@dataclass(frozen=True)
class CollectionQuestion:
    """What a collection question asks: ``kind`` is 'list', 'mentions' or 'summary'."""

    kind: str
    topic: str = ""
    document_id: str | None = None


@dataclass
class CollectionAnswer:
    """A ready answer (``text``, no model call) or the passages the model answers from."""

    text: str | None = None
    sources: list[Source] = field(default_factory=list)


def _stem(filename: str) -> str:
    return filename.rsplit(".", 1)[0] if "." in filename else filename


def named_documents(question: str, documents: Iterable[DocumentInfo]) -> list[DocumentInfo]:
    """Ready documents whose file name (with or without ``.pdf``) the question contains."""
    lowered = question.casefold()
    named = []
    for doc in documents:
        if doc.status != "ready":
            continue
        for name in (doc.filename, _stem(doc.filename)):
            name = name.casefold()
            at = lowered.find(name)
            # a whole name: not "10K" inside "ACME_10K_2023" nor "a" inside "what"
            if len(name) >= 3 and at >= 0 and not _word_char(lowered, at - 1) and not _word_char(lowered, at + len(name)):
                named.append(doc)
                break
    return named


def _word_char(text: str, at: int) -> bool:
    return 0 <= at < len(text) and (text[at].isalnum() or text[at] in "_-")


def classify(question: str, documents: Sequence[DocumentInfo],
             selected: Sequence[str] | None = None) -> CollectionQuestion | None:
    """The collection question ``question`` asks, or None for an ordinary question.

    ``selected``: the document ids the caller restricted the turn to, if any. A summary
    needs one document: the one named, else the only one selected or in scope.
    """
    if _LIST.search(question):
        return CollectionQuestion("list")
    mentions = _MENTIONS.search(question)
    if mentions:
        topic = (mentions.group("en") or mentions.group("zh") or "").strip(" \"'“”「」")
        if topic:
            return CollectionQuestion("mentions", topic=topic)
    if _SUMMARY.search(question):
        ready = [d for d in documents if d.status == "ready" and (not selected or d.id in selected)]
        named = named_documents(question, ready)
        if len(named) == 1:
            return CollectionQuestion("summary", document_id=named[0].id)
        if not named and len(ready) == 1 and (_THIS_DOCUMENT.search(question) or len(question) < 40):
            return CollectionQuestion("summary", document_id=ready[0].id)
    return None


# --- list ----------------------------------------------------------------------------------
_STATUS = {"en": {"ready": "ready", "indexing": "still indexing", "failed": "failed"},
           "zh": {"ready": "可用", "indexing": "正在索引", "failed": "失败"}}


def list_answer(documents: Sequence[DocumentInfo], question: str) -> str:
    """The caller's documents as a numbered Markdown list, in the question's language."""
    zh = is_chinese(question)
    status = _STATUS["zh" if zh else "en"]
    if not documents:
        return "您还没有上传任何文档。" if zh else "You have no documents yet."
    lines = [f"您有 {len(documents)} 份文档：" if zh else
             f"You have {len(documents)} document{'s' if len(documents) != 1 else ''}:"]
    for i, doc in enumerate(sorted(documents, key=lambda d: d.filename.casefold()), start=1):
        day = doc.created_at[:10]
        state = status.get(doc.status, doc.status)
        if zh:
            lines.append(f"{i}. {doc.filename} — {doc.pages} 页，添加于 {day}，{state}")
        else:
            lines.append(f"{i}. {doc.filename} — {doc.pages} page{'s' if doc.pages != 1 else ''}, added {day}, {state}")
    return "\n".join(lines)


# --- mentions ------------------------------------------------------------------------------
MENTION_CANDIDATES = 50


def mentioning(topic: str, sources: Sequence[Source]) -> list[list[Source]]:
    """Per document (best first), its passages that contain the topic's words.

    ``sources`` come from a search for the topic; a passage counts only when it holds
    every content word of the topic (most of them for a long topic), so a document that
    is merely similar in meaning is not listed as mentioning it.
    """
    words = set(content_words(topic))
    need = len(words) if len(words) <= 3 else (len(words) * 2 + 2) // 3
    by_document: dict[str, list[Source]] = {}
    for source in sources:
        found = words & set(content_words(source.text))
        if words and len(found) >= need:
            by_document.setdefault(source.document_id, []).append(source)
    return list(by_document.values())


def mentions_answer(topic: str, hits: Sequence[Sequence[Source]], question: str) -> CollectionAnswer:
    """One line per document with the pages that mention ``topic``; its best passage is cited."""
    zh = is_chinese(question)
    if not hits:
        text = f"您的文档中没有提到“{topic}”。" if zh else f"None of your documents mentions “{topic}”."
        return CollectionAnswer(text=text)
    lines = [f"{len(hits)} 份文档提到了“{topic}”：" if zh else
             f"{len(hits)} document{'s' if len(hits) != 1 else ''} mention{'s' if len(hits) == 1 else ''} “{topic}”:"]
    sources = []
    for i, passages in enumerate(hits, start=1):
        pages = ", ".join(str(p) for p in sorted({s.page for s in passages}))
        sources.append(passages[0])
        lines.append(f"{i}. {passages[0].filename} — {'第 ' + pages + ' 页' if zh else 'pages ' + pages} [{i}]")
    return CollectionAnswer(text="\n".join(lines), sources=sources)


# --- summary -------------------------------------------------------------------------------
MAP_SYSTEM_EN = ("Summarise these pages of a document in at most three sentences. "
                 "Keep the names, figures and terms they use.")
MAP_SYSTEM_ZH = "用最多三句话概括文档的这几页。保留其中的名称、数字和术语。"
MAP_PARAMS = GenerationParams(max_new_tokens=120, temperature=0.0, repetition_penalty=1.0)


def page_sources(chunks: Sequence[Chunk]) -> list[Source]:
    """One passage per page, in page order (a page's chunks joined)."""
    pages: dict[int, list[Chunk]] = {}
    for chunk in sorted(chunks, key=lambda c: (c.page, c.id)):
        pages.setdefault(chunk.page, []).append(chunk)
    return [Source(document_id=c[0].document_id, filename=c[0].filename, page=page,
                   text="\n".join(ch.text for ch in c), score=1.0, chunk_id=c[0].id)
            for page, c in sorted(pages.items())]


def parts_within(sources: Sequence[Source], count: Callable[[str], int], budget: int) -> list[list[Source]]:
    """Consecutive pages grouped so that each group's text fits ``budget`` tokens."""
    parts: list[list[Source]] = []
    used = 0
    for source in sources:
        size = count(source.text)
        if parts and used + size <= budget:
            parts[-1].append(source)
            used += size
        else:
            parts.append([source])
            used = size
    return parts


def summary_sources(llm: ChatBackend, chunks: Sequence[Chunk], question: str, budget: int,
                    progress: Callable[[int, int], None] | None = None,
                    cancelled: Callable[[], bool] = lambda: False) -> list[Source]:
    """The passages a summary is written from: the document's pages when they fit ``budget``
    tokens, else one summary per part that does (map step; ``progress(done, total)``)."""
    pages = page_sources(chunks)
    count = llm.count_text_tokens
    parts = parts_within(pages, count, budget)
    if len(parts) <= 1:
        return pages
    system = MAP_SYSTEM_ZH if is_chinese(question) else MAP_SYSTEM_EN
    summaries: list[Source] = []
    for done, part in enumerate(parts):
        if cancelled():
            break
        if progress:
            progress(done, len(parts))
        first, last = part[0].page, part[-1].page
        text = "\n\n".join(f"[p. {s.page}]\n{s.text}" for s in part)
        completion = llm.complete([{"role": "system", "content": system}, {"role": "user", "content": text}], MAP_PARAMS)
        label = f"pp. {first}–{last}: " if last != first else f"p. {first}: "
        summaries.append(Source(document_id=part[0].document_id, filename=part[0].filename, page=first,
                                text=label + completion.text.strip(), score=1.0, chunk_id=part[0].chunk_id))
    if progress:
        progress(len(parts), len(parts))
    # The part summaries must fit too; past ~50 parts (120 tokens each in an 8k window) only
    # the first ones that fit are kept.
    return parts_within(summaries, count, budget)[0] if summaries else summaries
