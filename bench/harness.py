"""What every measurement shares: options, the loaded models, the indexed corpora.

Models are loaded once per run and shared by docchat and the recipe (same MiniLM
directory, same chat weights), and the FinanceBench corpus is indexed once by each side
— that indexing *is* the indexing-speed measurement, and the other measurements reuse it.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

log = logging.getLogger(__name__)


@dataclass
class BenchOptions:
    eval_dir: Path
    out_dir: Path
    quick: bool = False
    zh: bool = False
    only: list[str] | None = None
    max_new_tokens: int = 48  # answers in the answer-quality run: modest, the model is tiny
    answer_questions: int | None = None  # answer only the first N questions (None: all)
    answer_types: list[str] | None = None  # only FinanceBench questions of these question types
    cast_topics: int | None = None  # CAsT dialogues to run (None: all 13, quick 1)
    long_turns: int | None = None  # turns of the scripted conversation (None: 100, quick 10)
    index_cache: Path | None = None  # reuse the big retrieval sets' indexes here (bench/index_cache.py)
    retrieval_sets: list[str] | None = None  # extra retrieval sets (None: financebench_all, mmlongbench)
    answer_sets: list[str] | None = None  # answer-quality sets (None: bench.answers.DEFAULT_SETS)
    answer_systems: list[str] | None = None  # answer-quality systems (None: all of bench.answers.SYSTEMS)
    chat_model: str = "auto"  # Settings.model of the chat model every measurement shares
    chat_device: str = "cpu"  # Settings.device of that chat model


class RssSampler:
    """Peak resident memory of this process while a block runs (sampled every 50 ms)."""

    def __init__(self, interval_s: float = 0.05) -> None:
        import psutil

        self._proc = psutil.Process()
        self._interval = interval_s
        self._stop = threading.Event()
        self.start_bytes = 0
        self.peak_bytes = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._proc.memory_info().rss)
            self._stop.wait(self._interval)

    def __enter__(self) -> "RssSampler":
        self.start_bytes = self.peak_bytes = self._proc.memory_info().rss
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        self.peak_bytes = max(self.peak_bytes, self._proc.memory_info().rss)

    @property
    def peak_mb(self) -> float:
        return self.peak_bytes / 2**20

    @property
    def growth_mb(self) -> float:
        return (self.peak_bytes - self.start_bytes) / 2**20


def docchat_settings(data_dir: Path, **overrides: Any) -> Any:
    """Settings for a bench instance: bundled models on CPU, greedy, own data dir."""
    from settings import Settings

    values = dict(data_dir=data_dir, model="auto", embedding_model="auto", device="cpu",
                  temperature=0.0, repetition_penalty=1.1)
    values.update(overrides)
    return Settings(**values)


def pdf_page_count(pdf: Path) -> int:
    from pypdf import PdfReader

    reader = PdfReader(str(pdf))
    if reader.is_encrypted:
        reader.decrypt("")
    return len(reader.pages)


@dataclass
class IndexRun:
    """One side's indexing of a corpus: counts, wall time, memory."""

    pages: int
    chunks: int
    seconds: float
    peak_rss_mb: float
    rss_growth_mb: float
    failed: list[str] = field(default_factory=list)


class Bench:
    """Shared state of one ``python -m bench`` run; everything heavy is created lazily."""

    def __init__(self, options: BenchOptions) -> None:
        self.options = options
        self.work_dir = Path(tempfile.mkdtemp(prefix="docchat-bench-"))
        self._services: dict[str, Any] = {}
        self._llm: Any = None
        self._embedder: Any = None
        self._recipe_embeddings: Any = None
        self.finance: Any = None
        self.finance_docchat: Any = None  # Services with the filings indexed
        self.finance_recipe: Any = None  # RecipeIndex with the filings indexed
        self.finance_runs: dict[str, IndexRun] = {}
        self._set_pipelines: dict[tuple, Any] = {}  # (set name, PDFs) -> ConversationManager
        self._set_recipes: dict[tuple, Any] = {}  # (set name, PDFs) -> RecipeIndex

    # --- models -------------------------------------------------------------------
    @property
    def llm(self) -> Any:
        if self._llm is None:
            from llm.factory import make_backend

            self._llm = make_backend(docchat_settings(self.work_dir / "unused", model=self.options.chat_model,
                                                      device=self.options.chat_device))
        return self._llm

    @property
    def embedder(self) -> Any:
        if self._embedder is None:
            from rag.embeddings import make_embedder

            self._embedder = make_embedder(docchat_settings(self.work_dir / "unused"))
        return self._embedder

    @property
    def recipe_embeddings(self) -> Any:
        if self._recipe_embeddings is None:
            from bench.recipe import recipe_embeddings
            from llm.model_paths import bundled_embedding_dir

            self._recipe_embeddings = recipe_embeddings(bundled_embedding_dir())
        return self._recipe_embeddings

    def settings(self, data_dir: Path, **overrides: Any) -> Any:
        """``docchat_settings``, for modules handed a Bench that do not import this one
        (bench/index_cache.py: the harness uses it, never the other way round)."""
        return docchat_settings(data_dir, **overrides)

    def services(self, name: str, **overrides: Any) -> Any:
        """A docchat instance with its own data dir, sharing the loaded models."""
        if name not in self._services:
            from services import build_services

            settings = docchat_settings(self.work_dir / name, **overrides)
            self._services[name] = build_services(settings, llm=self.llm, embedder=self.embedder)
        return self._services[name]

    # --- the FinanceBench corpus, indexed once by each side -------------------------
    def finance_corpus(self) -> Any:
        if self.finance is None:
            from bench.data import load_financebench

            finance = load_financebench(self.options.eval_dir)
            if self.options.quick:  # CI size: the 3 smallest filings and their questions
                pdfs = sorted(finance.pdfs, key=lambda p: p.stat().st_size)[:3]
                stems = {p.stem for p in pdfs}
                finance.pdfs = pdfs
                finance.questions = [q for q in finance.questions if q.doc_name in stems]
            self.finance = finance
        return self.finance

    def index_finance(self) -> None:
        """Index the filings with docchat, then with the recipe, timing and sampling RSS."""
        if self.finance_docchat is not None:
            return
        from bench.recipe import RecipeIndex

        corpus = self.finance_corpus()
        pages = sum(pdf_page_count(p) for p in corpus.pdfs)
        for pdf in corpus.pdfs:  # warm the OS cache so neither side pays first-read costs
            pdf.read_bytes()
        self.embedder.embed_documents(["warm up"])
        _ = self.recipe_embeddings.embed_documents(["warm up"])

        services = self.services("finance")
        failed: list[str] = []
        chunks = 0
        with RssSampler() as rss:
            start = time.perf_counter()
            for pdf in corpus.pdfs:
                result = services.knowledge_base.add_file(pdf, pdf.name)
                chunks += result.chunks
                if result.status == "failed":
                    failed.append(f"{pdf.name}: {result.error}")
            seconds = time.perf_counter() - start
        self.finance_runs["docchat"] = IndexRun(pages, chunks, seconds, rss.peak_mb, rss.growth_mb, failed)
        self.finance_docchat = services

        recipe = RecipeIndex(self.recipe_embeddings, self.work_dir / "recipe-finance")
        with RssSampler() as rss:
            stats = recipe.build(corpus.pdfs)
        self.finance_runs["recipe"] = IndexRun(pages, stats.chunks, stats.seconds, rss.peak_mb, rss.growth_mb)
        self.finance_recipe = recipe
        log.info("indexing: %s", self.finance_runs)

    # --- other evaluation sets, indexed together through bench/index_cache.py ----------
    def set_pipeline(self, rset: Any) -> Any:
        """docchat's turn pipeline over ``rset`` (a bench.data.RetrievalSet), indexed once per
        run; with ``--index-cache`` the index retrieval_quality built is reused."""
        key = (rset.name, tuple(rset.pdfs))
        if key not in self._set_pipelines:
            from bench.index_cache import docchat_index
            from services import ConversationManager
            from storage.history import HistoryManager

            kb = docchat_index(self, rset, self.options.index_cache)
            self._set_pipelines[key] = ConversationManager(kb.settings, llm=self.llm, knowledge_base=kb,
                                                           history=HistoryManager(kb.registry.db))
        return self._set_pipelines[key]

    def set_recipe(self, rset: Any) -> Any:
        """The recipe's Chroma over ``rset``, built once per run (or reused from ``--index-cache``)."""
        key = (rset.name, tuple(rset.pdfs))
        if key not in self._set_recipes:
            from bench.index_cache import recipe_index

            self._set_recipes[key] = recipe_index(self, rset, self.options.index_cache)
        return self._set_recipes[key]

    def close(self) -> None:
        for pipeline in self._set_pipelines.values():
            try:
                pipeline.knowledge_base.close()
            except Exception:  # closing is best effort at the end of a run
                log.debug("closing a set index failed", exc_info=True)
        for services in self._services.values():
            try:
                services.close()
            except Exception:  # closing is best effort at the end of a run
                log.debug("closing services failed", exc_info=True)
        shutil.rmtree(self.work_dir, ignore_errors=True)


def timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start
