"""Measurement 3: answer quality — docchat, the recipe, an oracle and the bare model on one chat model.

Question sets (``--answer-sets``), each set's PDFs indexed together:

* ``financebench``: the twelve filings, 24 questions, scored by gold figure (stated within
  1%, in any scale: bench.metrics.contains_gold_figure) where the gold answer has one;
* ``finance54`` (not by default): all 54 filings and their 91 questions, the same way;
* ``mmlongbench``: 26 long documents, 47 short answers, scored by exact match and token
  F1 (SQuAD normalisation) and "correct" when every gold item is in the answer;
* ``zh``: the Chinese paper's first turns: no gold answers, so only the language of the
  answer, citations of gold pages and abstention are scored.

Each set also gets the questions of bench/unanswerable.py (12, capped like the others),
which the documents cannot answer: the right reply is the abstention sentence.

Systems (``--answer-systems``), all on the same weights, greedy:

* ``docchat``: the real turn pipeline (hybrid retrieval, docchat's prompt with [n] marks);
* ``recipe``: seed 004's ``ConversationalRetrievalChain`` (bench/recipe.py);
* ``oracle``: docchat's pipeline with retrieval replaced by the chunks docchat indexed on
  the question's gold pages; it skips (and counts) the questions without such chunks:
  the unanswerable ones, and gold pages without text in the index;
* ``no_retrieval``: the same pipeline with RAG off: the model alone, question only.

Per set and system: bench.metrics.answer_summary (correct, EM/F1, answers with [n],
correct answers citing a gold page, abstention on unanswerable and answerable questions,
Chinese answers to Chinese questions, TTFT p50, decode tokens/s, prompt tokens). Every
answer is appended to ``<out>/answers.jsonl`` as soon as it exists, for people to read.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, TextIO

from bench.data import FinanceQuestion, GoldPage, RetrievalSet, load_finance_set, load_mmlongbench, load_zh, union
from bench.harness import Bench
from bench.metrics import (
    answer_summary,
    calculation_record,
    answered_in_chinese,
    cited_indexes,
    cites_gold,
    contains_gold_figure,
    decode_tokens_per_s,
    exact_match,
    gold_in_answer,
    token_f1,
)
from bench.unanswerable import BY_SET

log = logging.getLogger(__name__)

SYSTEMS = ("docchat", "recipe", "oracle", "no_retrieval")
# "<system>-<variant>": docchat or the oracle with settings changed, in the same run on the
# same index and model, e.g. "docchat-nocalc" (the calculator off) beside "docchat".
VARIANTS: dict[str, dict[str, Any]] = {"nocalc": {"calculator": False}, "unpruned": {"prune_passages": False}}
SETS = ("financebench", "finance54", "mmlongbench", "zh")
DEFAULT_SETS = ("financebench", "mmlongbench", "zh")
RECORDS_FILE = "answers.jsonl"
USER = "bench"
SAMPLE_ANSWERABLE = 2  # per set, the answers of every system to this many questions (+ one unanswerable)
QUICK_UNANSWERABLE = 3
QUICK_MMLONGBENCH_DOCS = 2  # --quick: the smallest documents with questions


@dataclass
class AnswerSet:
    name: str
    scoring: str  # "figure" (FinanceBench), "short" (MMLongBench-Doc), "none" (zh: pages only)
    corpus: RetrievalSet  # the PDFs indexed together and the answerable questions
    unanswerable: list[FinanceQuestion]  # gold = no pages

    @property
    def questions(self) -> list[FinanceQuestion]:
        return self.corpus.questions + self.unanswerable


@dataclass
class Answer:
    text: str
    pages: list[GoldPage]  # the passages shown to the model, in [n] order
    seconds: float
    turn: Any = None  # rag.types.TurnResult when docchat's pipeline answered
    failed: bool = False


# --- the sets -----------------------------------------------------------------------
def load_set(bench: Bench, name: str) -> AnswerSet | None:
    """The set's PDFs, its answerable questions and our unanswerable ones (None: not in --eval-dir)."""
    eval_dir, quick = bench.options.eval_dir, bench.options.quick
    if name == "financebench":
        finance = bench.finance_corpus()  # --quick: the three smallest filings
        corpus, scoring = RetrievalSet(name, finance.pdfs, finance.questions), "figure"
    elif name == "finance54":
        if not (eval_dir / "financebench_more").is_dir():
            return None
        # named as retrieval_quality names it, so --index-cache shares the index
        corpus = union("financebench_all", load_finance_set(eval_dir), load_finance_set(eval_dir, "financebench_more"))
        scoring = "figure"
    elif name == "mmlongbench":
        if not (eval_dir / "mmlongbench").is_dir():
            return None
        corpus, scoring = load_mmlongbench(eval_dir), "short"
        if quick:
            corpus = _smallest(corpus, QUICK_MMLONGBENCH_DOCS)
    elif name == "zh":
        if not (eval_dir / "zh").is_dir():
            return None
        pdf, turns = load_zh(eval_dir)
        first = [FinanceQuestion(t.dialogue, pdf.stem, t.question, "", {GoldPage(pdf.stem, p) for p in t.pages})
                 for t in turns if not t.history]
        corpus, scoring = RetrievalSet("zh", [pdf], first), "none"
    else:
        raise ValueError(f"unknown answer set {name!r}; known: {', '.join(SETS)}")
    cap = bench.options.answer_questions
    if bench.options.answer_types and scoring == "figure":
        kept = [q for q in corpus.questions if q.question_type in bench.options.answer_types]
        corpus = RetrievalSet(corpus.name, corpus.pdfs, kept)
    unanswerable = [FinanceQuestion(f"unanswerable-{name}-{i}", "", text, "", set())
                    for i, text in enumerate(BY_SET[name], start=1)]
    corpus = RetrievalSet(corpus.name, corpus.pdfs, corpus.questions[: cap or None])
    return AnswerSet(name, scoring, corpus, unanswerable[: cap or (QUICK_UNANSWERABLE if quick else None)])


def _smallest(corpus: RetrievalSet, n: int) -> RetrievalSet:
    asked = {q.doc_name for q in corpus.questions}
    pdfs = sorted((p for p in corpus.pdfs if p.stem in asked), key=lambda p: p.stat().st_size)[:n]
    stems = {p.stem for p in pdfs}
    return RetrievalSet(corpus.name, pdfs, [q for q in corpus.questions if q.doc_name in stems])


def _pipeline(bench: Bench, aset: AnswerSet) -> Any:
    if aset.name == "financebench":
        bench.index_finance()  # the twelve's index, shared with the other measurements
        return bench.finance_docchat.pipeline
    return bench.set_pipeline(aset.corpus)


def _recipe_index(bench: Bench, aset: AnswerSet) -> Any:
    if aset.name == "financebench":
        bench.index_finance()
        return bench.finance_recipe
    return bench.set_recipe(aset.corpus)


# --- the systems --------------------------------------------------------------------
def _pages(sources: list) -> list[GoldPage]:
    return [GoldPage(s.filename.rsplit(".", 1)[0], s.page) for s in sources]


def _turn(pipeline: Any, params: Any, q: FinanceQuestion, use_rag: bool = True) -> Answer:
    """One stateless turn through docchat's pipeline (docchat, no_retrieval, oracle)."""
    from rag.types import TurnRequest

    start = time.perf_counter()
    result = pipeline.run_turn(TurnRequest(user_id=USER, text=q.question, params=params, history=[],
                                           persist=False, use_rag=use_rag))
    return Answer(result.text.strip(), _pages(result.sources), time.perf_counter() - start, result)


class _FixedPassages:
    """Stands in for the knowledge base in docchat's pipeline: every search returns the
    same passages. The oracle's prompt, window, [n] handling and timings are docchat's own."""

    def __init__(self, sources: list, embedder: Any) -> None:
        self.sources = sources
        self.embedder = embedder  # rag.citations.annotate checks the cited sentences with it

    def has_documents(self, owner: str | None = None) -> bool:
        return True

    def search(self, queries: Any, k: int = 5, document_ids: Any = None, owner: str | None = None,
               phrasings: Any = (), phrasing_weight: float = 1.0, statements: Any = ()) -> list:
        return list(self.sources)

    def list(self, owner: str | None = None) -> list:
        """No registry: the oracle's questions are never about the collection or a named file."""
        return []

    def document_chunks(self, document_id: str, owner: str | None = None) -> list:
        return []

    def routed_documents(self, queries: Any, document_ids: Any = None, owner: str | None = None) -> list:
        return []


class GoldPassages:
    """The chunks docchat indexed on given gold pages, in reading order (read once per document)."""

    def __init__(self, knowledge_base: Any) -> None:
        self.knowledge_base = knowledge_base
        self._documents: dict[str, Any] | None = None
        self._chunks: dict[str, list] = {}

    def sources(self, gold: set[GoldPage]) -> list:
        from rag.types import Source

        if self._documents is None:
            self._documents = {d.filename.rsplit(".", 1)[0]: d for d in self.knowledge_base.list()
                               if d.status == "ready"}
        sources, seen = [], set()
        for page in sorted(gold, key=lambda g: (g.doc, g.page)):
            doc = self._documents.get(page.doc)
            if doc is None:
                continue
            if doc.id not in self._chunks:
                self._chunks[doc.id] = sorted(self.knowledge_base.document_chunks(doc.id), key=lambda c: c.index)
            for chunk in self._chunks[doc.id]:
                if chunk.page <= page.page <= chunk.page_end and chunk.id not in seen:
                    seen.add(chunk.id)  # a chunk running onto the gold page is cited as that page
                    sources.append(Source(doc.id, doc.filename, page.page, chunk.text, 1.0, chunk.id))
        return sources


def _oracle(pipeline: Any, gold: GoldPassages, params: Any, q: FinanceQuestion) -> Answer | None:
    from services import ConversationManager

    sources = gold.sources(q.gold)
    if not sources:  # unanswerable, or the gold pages have no text in the index (a scan, page 0)
        return None
    passages = _FixedPassages(sources, pipeline.knowledge_base.embedder)
    oracle = ConversationManager(pipeline.settings, llm=pipeline.llm, knowledge_base=passages,
                                 history=pipeline.history_manager)
    return _turn(oracle, params, q)


def _recipe(chain: Any, q: FinanceQuestion) -> Answer:
    from bench.recipe import source_pages

    start = time.perf_counter()
    try:
        result = chain.invoke({"question": q.question, "chat_history": []})
        return Answer(str(result["answer"]).strip(), source_pages(result), time.perf_counter() - start)
    except Exception as exc:  # e.g. 4 x 4000-char chunks overflowing the model's context
        log.warning("recipe chain failed on %s: %s", q.id, exc)
        return Answer("", [], time.perf_counter() - start, failed=True)


def _variant(pipeline: Any, variants: list[str]) -> Any:
    """docchat's pipeline on the same index, history and model, with the variants' settings."""
    from services import ConversationManager

    if not variants:
        return pipeline
    update: dict[str, Any] = {}
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"unknown system variant {variant!r}; known: {', '.join(VARIANTS)}")
        update.update(VARIANTS[variant])
    return ConversationManager(pipeline.settings.model_copy(update=update), llm=pipeline.llm,
                               knowledge_base=pipeline.knowledge_base, history=pipeline.history_manager)


def _answerers(bench: Bench, aset: AnswerSet, systems: list[str], params: Any) -> dict[str, Callable]:
    """system name → function(question) -> Answer | None."""
    base = _pipeline(bench, aset)
    out: dict[str, Callable] = {}
    for full_name in systems:
        name, *variants = full_name.split("-")
        pipeline = _variant(base, variants)
        if variants and name not in ("docchat", "oracle"):
            raise ValueError(f"variants apply to docchat and oracle, not {name!r}")
        if name == "docchat":
            out[full_name] = partial(_turn, pipeline, params)
        elif name == "recipe":
            from bench.recipe import conversational_chain, langchain_chat_model

            chain = conversational_chain(langchain_chat_model(bench.llm, params.max_new_tokens),
                                         _recipe_index(bench, aset))
            out[full_name] = partial(_recipe, chain)
        elif name == "oracle":
            out[full_name] = partial(_oracle, pipeline, GoldPassages(pipeline.knowledge_base), params)
        elif name == "no_retrieval":
            out[full_name] = partial(_turn, pipeline, params, use_rag=False)
        else:
            raise ValueError(f"unknown answer system {name!r}; known: {', '.join(SYSTEMS)}")
    return out


# --- scoring ------------------------------------------------------------------------
def _labels(pages: list[GoldPage]) -> list[str]:
    return [f"{p.doc} p.{p.page}" for p in pages]


def record(aset: AnswerSet, system: str, q: FinanceQuestion, answer: Answer) -> dict:
    """One line of answers.jsonl: the answer, what it was shown, and how it scores."""
    from rag.language import is_chinese
    from rag.prompting import is_abstention

    text, pages, turn = answer.text, answer.pages, answer.turn
    answerable = bool(q.gold)
    correct = em = f1 = None
    if answerable and aset.scoring == "figure":
        correct = contains_gold_figure(text, q.answer, q.question)
    elif answerable and aset.scoring == "short":
        em, f1, correct = exact_match(text, q.answer), token_f1(text, q.answer), gold_in_answer(text, q.answer)
    timings = turn.timings if turn is not None else {}
    return {
        "set": aset.name, "system": system, "id": q.id, "question": q.question, "answerable": answerable,
        "gold_answer": q.answer or None, "gold_pages": _labels(sorted(q.gold, key=lambda g: (g.doc, g.page))),
        "answer": text, "sources": _labels(pages), "n_sources": len(pages),
        "cited": [i + 1 for i in cited_indexes(text, len(pages))], "cited_gold": cites_gold(text, pages, q.gold),
        "correct": correct, "em": em, "f1": f1, "abstained": is_abstention(text),
        "chinese_question": is_chinese(q.question), "chinese_answer": answered_in_chinese(text),
        "seconds": answer.seconds, "failed": answer.failed,
        "ttft_s": timings.get("first_token_s"),
        "decode_tokens_per_s": decode_tokens_per_s(turn.usage.completion_tokens, timings.get("first_token_s"),
                                                   timings.get("generate_s")) if turn is not None else None,
        "prompt_tokens": turn.prompt_tokens if turn is not None else None,
        "completion_tokens": turn.usage.completion_tokens if turn is not None else None,
        "warnings": list(turn.warnings) if turn is not None else [],
        "model_text": turn.model_text if turn is not None else "",  # what a replaced answer said
        "passages": [s.text for s in turn.sources] if turn is not None else [],  # what the checks read
        "question_type": q.question_type or None,
        **calculation_record(turn, q.answer if aset.scoring == "figure" else "", q.question),
    }


def run_set(bench: Bench, aset: AnswerSet, systems: list[str], params: Any, records_file: TextIO) -> dict:
    answerers = _answerers(bench, aset, systems, params)
    records: dict[str, list[dict]] = {name: [] for name in answerers}
    skipped = {name: 0 for name in answerers}  # answerable questions a system could not take
    samples = []
    questions = aset.questions
    for i, q in enumerate(questions):
        texts = {}
        for name, answer_question in answerers.items():
            answer = answer_question(q)
            if answer is None:
                skipped[name] += bool(q.gold)
                continue
            row = record(aset, name, q, answer)
            records[name].append(row)
            records_file.write(json.dumps(row, ensure_ascii=False) + "\n")
            records_file.flush()
            texts[name] = answer.text
        log.info("answers %s %d/%d %s", aset.name, i + 1, len(questions), q.id)
        if i < SAMPLE_ANSWERABLE or i == len(aset.corpus.questions):
            samples.append({"id": q.id, "question": q.question, "gold": q.answer or None, "answers": texts})
    gold_answers = aset.scoring != "none"
    return {
        "documents": len(aset.corpus.pdfs), "answerable": len(aset.corpus.questions),
        "unanswerable": len(aset.unanswerable), "scoring": aset.scoring,
        "systems": {name: {**answer_summary(rows, gold_answers), "failed": sum(r["failed"] for r in rows),
                           "skipped": skipped[name]} for name, rows in records.items()},
        "samples": samples,
    }


def run(bench: Bench) -> dict:
    from llm.types import GenerationParams

    options = bench.options
    sets = list(options.answer_sets or DEFAULT_SETS)
    systems = list(options.answer_systems or SYSTEMS)
    params = GenerationParams(max_new_tokens=options.max_new_tokens, temperature=0.0, repetition_penalty=1.1)
    options.out_dir.mkdir(parents=True, exist_ok=True)
    out: dict = {"chat_model": bench.llm.name, "max_new_tokens": params.max_new_tokens, "systems": systems,
                 "questions_cap": options.answer_questions, "records": RECORDS_FILE, "sets": {}}
    with (options.out_dir / RECORDS_FILE).open("w", encoding="utf-8") as records_file:
        for name in sets:
            try:
                aset = load_set(bench, name)
                if aset is None:
                    log.info("answer set %s: not in %s, skipped", name, options.eval_dir)
                    continue
                out["sets"][name] = run_set(bench, aset, systems, params, records_file)
            except Exception as exc:  # one set failing must not hide the others
                log.exception("answer set %s failed", name)
                out["sets"][name] = {"error": f"{type(exc).__name__}: {exc}"}
    return out
