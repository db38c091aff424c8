"""Topic switches and follow-ups: does the condense step keep a question that stands alone?

``python -m bench.topic_switch --chat-model qwen2.5-1.5b [--cast-topics N] [--cache DIR] [--index-cache DIR]``
(issue 34, item 0). Two conversations, each condensed *before* (every question with history
rewritten by the model, as shipped until issue 34) and *after* (rag/standalone.py: the
cheap check first, the rewrite checked against the question):

* **topic switches** — the first questions of unrelated documents asked one after another
  in one conversation (one per FinanceBench filing of the twelve, one per MMLongBench-Doc
  document, the zh paper's first turns, interleaved). Reported: how many standalone queries
  keep >= 60 % of the question's content words, how many questions went to the model, and
  recall@5 of each (standalone + raw, the default strategy) against asking it in a new
  conversation. Each question is searched in its own set's index (the twelve, the zh
  paper; MMLongBench-Doc only with ``--mmlongbench-index``, it takes long to build).
* **follow-ups** — TREC CAsT 2021 (the first N topics) and the zh dialogues: recall@5
  before/after, and the same with other ``KEEP_MIN`` thresholds.

The model is asked once per distinct prompt: completions are kept in ``--cache`` (keyed
by model and messages), so before, after and the threshold sweep share them, and a rerun
only searches.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.data import GoldPage, RetrievalSet, cast_passages, load_cast, load_finance_set, load_mmlongbench, load_zh, \
    write_passages_pdf
from bench.harness import Bench, BenchOptions
from bench.metrics import ranking_summary

log = logging.getLogger(__name__)

K = 5
STRATEGY = "standalone+raw"  # settings.retrieval_strategy's default
KEPT_ENOUGH = 0.6
THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
MMLONGBENCH_QUESTIONS = 8
ANSWER_CHARS = 300


class CachedLLM:
    """The chat model with its completions remembered on disk by (model, messages, params);
    ``calls`` counts what the code under test asked, ``misses`` what the model computed."""

    def __init__(self, inner: Any, path: Path | None) -> None:
        self.inner, self.path = inner, path
        self.rows: dict[str, str] = {}
        self.calls = self.misses = 0
        if path and path.exists():
            for line in path.read_text("utf-8").splitlines():
                row = json.loads(line)
                self.rows[row["key"]] = row["text"]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def complete(self, messages: list[dict], params: Any) -> Any:
        from llm.types import Completion

        self.calls += 1
        key = hashlib.sha256(json.dumps([self.inner.name, messages, params.max_new_tokens, params.adapter],
                                        ensure_ascii=False).encode()).hexdigest()
        if key not in self.rows:
            self.misses += 1
            self.rows[key] = self.inner.complete(messages, params).text
            if self.path:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps({"key": key, "text": self.rows[key]}, ensure_ascii=False) + "\n")
        return Completion(self.rows[key])


def condensed_before(llm: Any, turns: list[dict], question: str) -> str:
    """The condense step as shipped before issue 34: every question with history rewritten."""
    from rag.condense import CONDENSE_PARAMS, build_condense_messages, clean_condensed

    if not turns:
        return question
    return clean_condensed(llm.complete(build_condense_messages(turns, question), CONDENSE_PARAMS).text, question)


def condensed_after(llm: CachedLLM, turns: list[dict], question: str) -> tuple[str, bool]:
    """rag.condense.condense_question now, and whether it asked the model."""
    from rag.condense import condense_question

    asked = llm.calls
    standalone = condense_question(llm, turns, question)
    return standalone, llm.calls > asked


@dataclass
class Asked:
    """One question of a scripted conversation, with the index it is searched in."""

    set_name: str
    question: str
    gold: set[GoldPage]
    answer: str = ""
    history: list[dict] = field(default_factory=list)


def _pages(sources: Any) -> list[GoldPage]:
    return [GoldPage(s.filename.rsplit(".", 1)[0], s.page) for s in sources]


def topic_switch_questions(eval_dir: Path) -> list[Asked]:
    """First questions of unrelated documents, interleaved: filing, report, zh paper, …"""
    finance, seen = [], set()
    for q in load_finance_set(eval_dir).questions:
        if q.doc_name not in seen:
            seen.add(q.doc_name)
            finance.append(Asked("financebench", q.question, set(q.gold), q.answer))
    mmlb, seen = [], set()
    for q in load_mmlongbench(eval_dir).questions:
        if q.doc_name not in seen and len(mmlb) < MMLONGBENCH_QUESTIONS:
            seen.add(q.doc_name)
            mmlb.append(Asked("mmlongbench", q.question, set(q.gold), q.answer))
    pdf, zh_turns = load_zh(eval_dir)
    zh = [Asked("zh", t.question, {GoldPage(pdf.stem, p) for p in t.pages}) for t in zh_turns if not t.history]
    out: list[Asked] = []
    for i in range(max(len(finance), len(mmlb), len(zh))):
        out += [group[i] for group in (finance, mmlb, zh) if i < len(group)]
    history: list[dict] = []
    for asked in out:
        asked.history = list(history)
        history += [{"role": "user", "content": asked.question},
                    {"role": "assistant", "content": asked.answer[:ANSWER_CHARS]}]
    return out


def _score(kb: Any, asked: Asked, standalone: str) -> tuple[list[GoldPage], set[GoldPage]]:
    from rag.condense import retrieval_queries

    queries = retrieval_queries(STRATEGY, asked.question, standalone, asked.history)
    return _pages(kb.search(queries, k=K)), asked.gold


def _with_threshold(value: float, fn: Any) -> Any:
    import rag.standalone as standalone

    saved, standalone.KEEP_MIN = standalone.KEEP_MIN, value
    try:
        return fn()
    finally:
        standalone.KEEP_MIN = saved


def run_topic_switch(llm: CachedLLM, indexes: dict[str, Any], questions: list[Asked]) -> dict:
    from rag.standalone import kept_share, read_question

    rows, runs = [], {"new": [], "before": [], "after": []}
    sweep: dict[float, list] = {t: [] for t in THRESHOLDS}
    for asked in questions:
        if not asked.history:
            continue
        before = condensed_before(llm, asked.history, asked.question)
        after, to_model = condensed_after(llm, asked.history, asked.question)
        row = {"set": asked.set_name, "question": asked.question, "reads": read_question(asked.question).kind,
               "before": before, "after": after, "to_model": to_model,
               "kept_before": round(kept_share(asked.question, before), 2),
               "kept_after": round(kept_share(asked.question, after), 2)}
        kb = indexes.get(asked.set_name)
        if kb is not None:
            for name, query in (("new", asked.question), ("before", before), ("after", after)):
                ranked, gold = _score(kb, asked, query)
                runs[name].append((ranked, gold))
                row[f"hit_{name}"] = bool(set(ranked) & gold)
            for t in THRESHOLDS:
                query_t = _with_threshold(t, lambda: condensed_after(llm, asked.history, asked.question)[0])
                sweep[t].append(_score(kb, asked, query_t))
        rows.append(row)
    n = len(rows)
    return {
        "questions": n,
        "kept_60_before": sum(r["kept_before"] >= KEPT_ENOUGH for r in rows),
        "kept_60_after": sum(r["kept_after"] >= KEPT_ENOUGH for r in rows),
        "to_model_before": n,
        "to_model_after": sum(r["to_model"] for r in rows),
        "recall": {name: ranking_summary(r, ks=(1, K)) for name, r in runs.items()},
        "recall_by_keep_min": {str(t): ranking_summary(r, ks=(1, K)) for t, r in sweep.items()},
        "rows": rows,
    }


def run_followups(llm: CachedLLM, kb: Any, turns: list[Asked]) -> dict:
    """Recall@5 of follow-ups before/after, and after at each KEEP_MIN."""
    from rag.standalone import read_question

    runs: dict[str, list] = {"raw": [], "before": [], "after": [], **{f"keep_min_{t}": [] for t in THRESHOLDS}}
    to_model, kinds, changed = 0, {}, []
    for asked in turns:
        if not asked.history:
            continue
        before = condensed_before(llm, asked.history, asked.question)
        after, asked_model = condensed_after(llm, asked.history, asked.question)
        to_model += asked_model
        kind = read_question(asked.question).kind
        kinds[kind] = kinds.get(kind, 0) + 1
        for name, query in (("raw", asked.question), ("before", before), ("after", after)):
            runs[name].append(_score(kb, asked, query))
        for t in THRESHOLDS:
            query_t = _with_threshold(t, lambda: condensed_after(llm, asked.history, asked.question)[0])
            runs[f"keep_min_{t}"].append(_score(kb, asked, query_t))
        if before != after and len(changed) < 40:
            changed.append({"question": asked.question, "before": before, "after": after, "reads": kind,
                            **{f"hit_{name}": bool(set(runs[name][-1][0][:K]) & runs[name][-1][1])
                               for name in ("before", "after")}})
    return {"followups": len(runs["raw"]), "to_model_after": to_model, "reads": kinds,
            "recall": {name: ranking_summary(r, ks=(1, K)) for name, r in runs.items()}, "changed": changed}


def cast_turns(bench: Bench, topics: int | None) -> tuple[Any, list[Asked]]:
    from bench.conversational import CORPUS_STEM, history_messages

    cast = load_cast(bench.options.eval_dir, topics=topics)
    passages = cast_passages(cast)
    page_of = {p: i + 1 for i, p in enumerate(passages)}
    pdf = write_passages_pdf(passages, bench.work_dir / f"{CORPUS_STEM}.pdf")
    services = bench.services("cast-topic-switch")
    services.knowledge_base.add_file(pdf, pdf.name)
    return services.knowledge_base, [
        Asked("cast", t.raw, {GoldPage(CORPUS_STEM, page_of[t.passage])}, history=history_messages(t)) for t in cast]


def zh_turns(eval_dir: Path) -> list[Asked]:
    pdf, turns = load_zh(eval_dir)
    # the earlier answers are not scripted: empty, as bench/zh.py
    return [Asked("zh", t.question, {GoldPage(pdf.stem, p) for p in t.pages},
                  history=[m for q in t.history for m in ({"role": "user", "content": q},
                                                          {"role": "assistant", "content": ""})])
            for t in turns]


def cached_index(root: Path | None, rset: RetrievalSet) -> Path | None:
    """The newest finished index of ``rset`` under ``root``, built by any version of the
    indexing code: this bench compares queries on one index, so an index that other
    benches built a little earlier serves (building MMLongBench-Doc's takes most of an hour)."""
    from bench.index_cache import COMPLETE

    found = sorted(root.glob(f"docchat-{rset.name}-*/{COMPLETE}"), key=lambda p: p.stat().st_mtime) if root else []
    return found[-1].parent if found else None


def open_index(bench: Bench, rset: RetrievalSet, root: Path | None) -> Any:
    """``rset``'s index from ``root`` when one is there, else built (bench/index_cache.py)."""
    from bench.index_cache import docchat_index
    from rag.knowledge_base import KnowledgeBase
    from storage.db import Database
    from storage.documents import DocumentRegistry

    folder = cached_index(root, rset)
    if folder is None:
        return docchat_index(bench, rset, root)
    log.info("index of %s: %s", rset.name, folder)
    settings = bench.settings(folder)
    return KnowledgeBase(settings, DocumentRegistry(Database(settings.db_path)), bench.embedder)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.topic_switch", description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path(__file__).resolve().parent.parent.parent / "shared" / "eval")
    parser.add_argument("--chat-model", default="qwen2.5-1.5b")
    parser.add_argument("--cast-topics", type=int, default=None, help="CAsT dialogues (default: all 13)")
    parser.add_argument("--cache", type=Path, default=None, help="the model's completions are kept here")
    parser.add_argument("--index-cache", type=Path, default=None,
                        help="the sets' indexes (bench/index_cache.py), e.g. the one the other benches built")
    parser.add_argument("--mmlongbench-index", action="store_true",
                        help="also score MMLongBench-Doc's questions when --index-cache holds its index")
    parser.add_argument("--skip-cast", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("topic_switch.json"))
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for noisy in ("httpx", "chromadb", "bm25s", "sentence_transformers", "jieba"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name, value in (("HF_HUB_OFFLINE", "1"), ("TRANSFORMERS_OFFLINE", "1"), ("ANONYMIZED_TELEMETRY", "False"),
                        ("TOKENIZERS_PARALLELISM", "false")):
        os.environ.setdefault(name, value)
    bench = Bench(BenchOptions(eval_dir=args.eval_dir, out_dir=args.out.parent, index_cache=args.index_cache,
                               chat_model=args.chat_model))
    try:
        llm = CachedLLM(bench.llm, args.cache / f"completions-{bench.llm.name.replace('/', '_')}.jsonl"
                        if args.cache else None)
        zh_pdf, _ = load_zh(args.eval_dir)
        indexes = {"financebench": open_index(bench, load_finance_set(args.eval_dir), args.index_cache),
                   "zh": open_index(bench, RetrievalSet("zh", [zh_pdf], []), args.index_cache)}
        if args.mmlongbench_index and cached_index(args.index_cache, load_mmlongbench(args.eval_dir)):
            indexes["mmlongbench"] = open_index(bench, load_mmlongbench(args.eval_dir), args.index_cache)
        results: dict[str, Any] = {"chat_model": bench.llm.name, "strategy": STRATEGY}
        parts = [("topic_switch", lambda: run_topic_switch(llm, indexes, topic_switch_questions(args.eval_dir))),
                 ("zh_followups", lambda: run_followups(llm, indexes["zh"], zh_turns(args.eval_dir)))]
        if not args.skip_cast:
            parts.append(("cast_followups", lambda: run_followups(llm, *cast_turns(bench, args.cast_topics))))
        args.out.parent.mkdir(parents=True, exist_ok=True)
        for name, part in parts:  # each part written as it ends: an interrupted run keeps the others
            results[name] = part()
            results["model_completions_computed"] = llm.misses
            args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str), encoding="utf-8")
            log.info("%s done; wrote %s", name, args.out)
    finally:
        bench.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
