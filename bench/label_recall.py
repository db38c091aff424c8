"""Measurement: line-item label queries in the search (issue 34 item 1), before/after on the same indexes.

``python -m bench.label_recall --index-cache DIR [--build-only] [--sets financebench,...]``

Before: each question searched as asked. After: the same, with ``label_queries(question)``
(rag/metric_definitions.py: the statement's title and a line item's most printed labels, per
line item the question names or needs) fused as phrasings at a few weights, and a variant
without the title — restricted to the document the
question names, as the model's phrasings are (rag/retriever.py). Page-level recall@1/@5 and MRR
on every question, and on the questions that got label queries at all. The zh paper is
searched with each turn's standalone form (its ``rewrite`` when it has one). No chat model.

Indexes come from ``--index-cache`` (bench/index_cache.py). Other sessions change the indexing
modules whose source keys the cache, so when no index with today's key is complete, the newest
complete index of the set is reused (logged): label queries change only the search.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import sys
from pathlib import Path

from bench.data import GoldPage, RetrievalSet, load_finance_set, load_mmlongbench, load_zh, union
from bench.harness import Bench, BenchOptions
from bench.metrics import first_hit_rank, ranking_summary
from bench.retrieval_quality import docchat_pages

log = logging.getLogger(__name__)

K = 5
WEIGHTS = (0.25, 0.5, 1.0, 2.0)
SETS = ("financebench", "financebench_all", "mmlongbench", "zh")
REPO_ROOT = Path(__file__).resolve().parent.parent


def retrieval_set(eval_dir: Path, name: str) -> RetrievalSet:
    if name == "financebench":
        return load_finance_set(eval_dir)
    if name == "financebench_all":
        return union("financebench_all", load_finance_set(eval_dir), load_finance_set(eval_dir, "financebench_more"))
    if name == "mmlongbench":
        return load_mmlongbench(eval_dir)
    if name == "zh":
        from bench.data import FinanceQuestion

        pdf, turns = load_zh(eval_dir)
        questions = [FinanceQuestion(f"{t.dialogue}-{i}", pdf.stem, t.rewrite or t.question, "",
                                     {GoldPage(pdf.stem, p) for p in t.pages}) for i, t in enumerate(turns)]
        return RetrievalSet("zh", [pdf], questions)
    raise ValueError(f"unknown set {name!r}; known: {', '.join(SETS)}")


def open_index(bench: Bench, rset: RetrievalSet, cache: Path):
    """The cached docchat index of ``rset``: today's key, else the newest complete one, else built now."""
    from bench.index_cache import COMPLETE, docchat_index, indexing_key, pdfs_key, _digest

    key = _digest(pdfs_key(rset.pdfs), indexing_key(bench.settings(cache / "probe"), bench.embedder.name))[:12]
    if not (cache / f"docchat-{rset.name}-{key}" / COMPLETE).exists():
        older = sorted(cache.glob(f"docchat-{rset.name}-*/{COMPLETE}"), key=lambda p: p.stat().st_mtime)
        if older:
            from rag.knowledge_base import KnowledgeBase
            from storage.db import Database
            from storage.documents import DocumentRegistry

            data_dir = older[-1].parent
            log.warning("no index of %s with today's key %s: reusing %s", rset.name, key, data_dir)
            settings = bench.settings(data_dir)
            return KnowledgeBase(settings, DocumentRegistry(Database(settings.db_path)), bench.embedder)
    return docchat_index(bench, rset, cache)


def without_title(question: str) -> list[str]:
    """The variant without the statement's title: the printed labels alone."""
    from rag.metric_definitions import LABELS_PER_QUERY, MAX_LABEL_QUERIES, is_chinese, line_items_in

    chinese = is_chinese(question)
    return list(dict.fromkeys(" ".join((i.labels_zh if chinese else i.labels)[:LABELS_PER_QUERY])
                              for i in line_items_in(question)[:MAX_LABEL_QUERIES]))


class MemoEmbedder:
    """The retriever's embedder with each query embedded once: every run searches the same
    question and label queries again (on two shared cores, embedding is most of a search)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.embed_query = functools.lru_cache(maxsize=None)(inner.embed_query)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)


def score(kb, questions, weights=WEIGHTS, no_title_weights=(1.0,)) -> dict:
    from rag.metric_definitions import label_queries

    retriever = kb._scope("").retriever
    if not isinstance(retriever.embedder, MemoEmbedder):
        retriever.embedder = MemoEmbedder(retriever.embedder)

    runs: dict[str, list] = {"before": [], **{f"labels_w{w}": [] for w in weights},
                             **{f"no_title_w{w}": [] for w in no_title_weights}}
    labelled: dict[str, list] = {name: [] for name in runs}
    examples, changed = [], []
    for q in questions:
        queries = label_queries(q.question)
        before = None
        for name in runs:
            weight = float(name.rsplit("_w", 1)[1]) if name != "before" else 0.0
            phrasings = without_title(q.question) if name.startswith("no_title") else queries
            if before is not None and not queries:  # nothing to add: every run is the plain search
                runs[name].append(before)
                continue
            sources = kb.search(q.question, k=K, phrasings=phrasings if weight else (), phrasing_weight=weight or 1.0)
            pair = (docchat_pages(sources), q.gold)
            before = before or pair
            runs[name].append(pair)
            if queries:
                labelled[name].append(pair)
        if queries:
            changed.append({"id": q.id, "queries": len(queries),
                            **{name: first_hit_rank(r[-1][0], q.gold) for name, r in runs.items()}})
        if queries and len(examples) < 8:
            examples.append({"question": q.question[:160], "label_queries": queries})
    return {
        "questions": len(questions),
        "with_label_queries": sum(1 for q in questions if label_queries(q.question)),
        "all": {name: ranking_summary(r, ks=(1, K)) for name, r in runs.items()},
        "labelled_only": {name: ranking_summary(r, ks=(1, K)) for name, r in labelled.items()},
        "label_queries_per_labelled_question": (sum(c["queries"] for c in changed) / len(changed)) if changed else 0.0,
        "examples": examples,
        "ranks_of_labelled": changed,  # first gold rank (None: not in the top k) per run
    }


def table(results: dict) -> str:
    """A markdown table: per set, recall@1/@5 before and at each weight (all questions; labelled ones)."""
    head = ["set", "questions", "with labels", "run", "recall@1", "recall@5", "MRR",
            "labelled: recall@1", "labelled: recall@5"]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, r in results.items():
        if "error" in r:
            rows.append(f"| {name} | error: {r['error']} |")
            continue
        for run, s in r["all"].items():
            lab = r["labelled_only"][run]
            rows.append(f"| {name} | {r['questions']} | {r['with_label_queries']} | {run} | {s['recall@1']:.2f} | "
                        f"{s['recall@5']:.2f} | {s['mrr']:.2f} | {lab['recall@1']:.2f} | {lab['recall@5']:.2f} |")
    return "\n".join(rows)


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(x) for x in text.split(",") if x.strip())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.label_recall", description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=REPO_ROOT.parent / "shared" / "eval")
    parser.add_argument("--index-cache", type=Path, required=True, help="indexes built once and reused")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated among {', '.join(SETS)}")
    parser.add_argument("--weights", default=",".join(map(str, WEIGHTS)), help="label-query weights to try")
    parser.add_argument("--no-title-weights", default="1.0", help="weights for the variant without statement titles ('' for none)")
    parser.add_argument("--build-only", action="store_true", help="build the missing indexes, score nothing")
    parser.add_argument("--out", type=Path, default=None, help="write the results as JSON here")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    bench = Bench(BenchOptions(eval_dir=args.eval_dir, out_dir=args.out or Path("/tmp"), index_cache=args.index_cache))
    results: dict = {}
    try:
        for name in args.sets.split(","):
            try:
                rset = retrieval_set(args.eval_dir, name)
                kb = open_index(bench, rset, args.index_cache)
                if not args.build_only:
                    results[name] = score(kb, rset.questions, _floats(args.weights), _floats(args.no_title_weights))
                    log.info("%s: %s", name, json.dumps(results[name]["all"]))
            except Exception as exc:  # one set failing must not hide the others
                log.exception("set %s failed", name)
                results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    finally:
        bench.close()
    if args.out:
        args.out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
    if not args.build_only:
        print(table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
