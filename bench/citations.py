"""Measurement 9: checkable citations — page render + highlight speed, citation precision.

Render: for chunks sampled over the FinanceBench filings docchat indexed, the time of
``PageViewer.page_png(document, page, 1000, chunk_id)`` — cold (the page is rendered by
pypdfium2) and warm (the plain render is cached on disk, the highlight drawn per
request); target p50 ≤ 150 ms. Also the share of chunks whose position was found.

Citation precision: the share of answers whose [n] marks *all* point to passages that
support their sentence (rag/citations.py's lexical + embedding check), over all answers
and over the answers that carry marks. The recipe's prompt asks for no marks, so its
answers have none; for a like-for-like number both sides also get the "implicit" check:
is the whole answer supported by the first source it shows.
"""

from __future__ import annotations

import logging
import random
import shutil
import statistics
import time

from bench.harness import Bench
from rag.citations import MIN_LEXICAL, MIN_SIMILARITY, annotate, lexical_support, mark_numbers

log = logging.getLogger(__name__)

RENDER_WIDTH = 1000
RENDER_SAMPLES = 30
TARGET_P50_MS = 150.0


def _percentiles(values: list[float]) -> dict:
    ordered = sorted(values)
    return {"p50_ms": statistics.median(ordered) * 1000,
            "p95_ms": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))] * 1000, "n": len(ordered)}


def render_speed(services, samples: int = RENDER_SAMPLES) -> dict:
    """Cold and warm page + highlight renders of chunks sampled over every indexed document."""
    kb, pages = services.knowledge_base, services.pages
    chunks = [c for doc in kb.list() if doc.status == "ready" for c in kb.document_chunks(doc.id)]
    located = sum(1 for c in chunks if pages.positions.get(c.id) is not None)
    picked = random.Random(13).sample(chunks, min(samples, len(chunks)))
    shutil.rmtree(pages.cache_dir, ignore_errors=True)
    cold, warm = [], []
    for timings in (cold, warm):
        for chunk in picked:
            start = time.perf_counter()
            pages.page_png(chunk.document_id, chunk.page, RENDER_WIDTH, chunk.id)
            timings.append(time.perf_counter() - start)
    result = {"width": RENDER_WIDTH, "chunks": len(chunks), "located_share": located / max(1, len(chunks)),
              "cold": _percentiles(cold), "warm": _percentiles(warm),
              "target": f"p50 ≤ {TARGET_P50_MS:.0f} ms (warm)"}
    result["met"] = result["warm"]["p50_ms"] <= TARGET_P50_MS
    return result


def _implicit_support(embedder, answer: str, passage: str) -> bool:
    """Is the whole answer backed by ``passage`` (the check a mark-less answer can get)?"""
    if not answer.strip() or not passage.strip():
        return False
    vectors = embedder.embed_documents([answer, passage])
    a, b = vectors[0], vectors[1]
    cosine = float(a @ b / ((a @ a) ** 0.5 * (b @ b) ** 0.5 + 1e-9))
    return lexical_support(answer, passage) >= MIN_LEXICAL or cosine >= MIN_SIMILARITY


def precision(answers: list[str], passages: list[list[str]], embedder) -> dict:
    """Citation precision of answers given the passages each was shown (in [n] order)."""
    from rag.types import Source

    marked = precise = implicit = 0
    for answer, texts in zip(answers, passages):
        sources = [Source("", "", 0, text, 0.0) for text in texts]
        if any(1 <= n <= len(texts) for n in mark_numbers(answer)):
            marked += 1
            cited = [s for s in annotate(answer, sources, embedder) if s.cited]
            precise += all(s.supported for s in cited)
        implicit += bool(texts) and _implicit_support(embedder, answer, texts[0])
    n = len(answers)
    return {"n": n, "answers_with_marks": marked / max(1, n),
            "precision": precise / max(1, n), "precision_of_marked": precise / marked if marked else None,
            "implicit_support": implicit / max(1, n)}


def run(bench: Bench) -> dict:
    from llm.types import GenerationParams
    from rag.types import TurnRequest

    bench.index_finance()
    services = bench.finance_docchat
    out: dict = {"render": render_speed(services)}
    log.info("render: %s", out["render"])

    questions = bench.finance_corpus().questions[: bench.options.answer_questions or None]
    params = GenerationParams(max_new_tokens=bench.options.max_new_tokens, temperature=0.0,
                              repetition_penalty=1.1)
    answers, passages, samples = [], [], []
    for q in questions:
        result = services.pipeline.run_turn(
            TurnRequest(user_id="bench", text=q.question, params=params, history=[], persist=False))
        answers.append(result.text.strip())
        passages.append([s.text for s in result.sources])
        if len(samples) < 3:
            samples.append({"question": q.question, "answer": result.text.strip(),
                            "cited": [s.cited for s in result.sources],
                            "supported": [s.supported for s in result.sources]})
    out["docchat"] = precision(answers, passages, bench.embedder)
    out["samples"] = samples
    out["chat_model"] = bench.llm.name
    out["max_new_tokens"] = params.max_new_tokens
    if not bench.options.quick or bench.options.answer_questions:
        out["recipe"] = _recipe(bench, questions)
    return out


def _recipe(bench: Bench, questions) -> dict:
    from bench.recipe import conversational_chain, langchain_chat_model

    chain = conversational_chain(langchain_chat_model(bench.llm, bench.options.max_new_tokens),
                                 bench.finance_recipe)
    answers, passages = [], []
    for q in questions:
        try:
            result = chain.invoke({"question": q.question, "chat_history": []})
            answers.append(str(result["answer"]).strip())
            passages.append([d.page_content for d in result.get("source_documents", [])])
        except Exception as exc:  # e.g. 4 x 4000-char chunks overflowing the model context
            log.warning("recipe chain failed on %s: %s", q.id, exc)
            answers.append("")
            passages.append([])
    return precision(answers, passages, bench.embedder)
