"""Measurement 1: page-level recall@1/@5 and MRR, docchat vs the recipe, on several sets.

* The twelve FinanceBench dev filings, indexed together (the index the other
  measurements reuse; target recall@5 >= 0.80 and >= recipe + 0.15).
* All 54 FinanceBench filings indexed together (the twelve + ``financebench_more``),
  scored on all 91 questions and on the twelve's / the 42's questions separately
  (target recall@5 >= recipe + 0.20).
* MMLongBench-Doc: 26 long reports, papers and manuals indexed together (target
  recall@5 >= recipe + 0.15): the same pipeline must win outside finance.

A question counts as found at k when any of the top-k chunks comes from a gold (document,
page). The recipe's retriever returns k=4 by default; to compare recall@5 on equal terms
we ask both sides for their top 5 and also report the recipe's as-shipped recall@4.
Each docchat index is also searched with entity routing off (retrieval only), to show
what routing adds. The big sets take most of an hour to index on two cores: pass
``--index-cache DIR`` to build them once and reuse them (bench/index_cache.py);
``--quick`` runs the twelve only.
"""

from __future__ import annotations

import logging

from bench.data import GoldPage, RetrievalSet, load_finance_set, load_mmlongbench, union
from bench.harness import Bench
from bench.metrics import ranking_summary, recall_at_k
from bench.recipe import RECIPE_K

log = logging.getLogger(__name__)

K = 5
TARGET_MARGIN = 0.15
TARGET_TWELVE = 0.80
SET_TARGETS = {"financebench_all": 0.20, "mmlongbench": 0.15}
EXTRA_SETS = ("financebench_all", "mmlongbench")


def docchat_pages(sources) -> list[GoldPage]:
    """Sources as (file stem, page); ``filename`` is the PDF's file name."""
    return [GoldPage(s.filename.rsplit(".", 1)[0], s.page) for s in sources]


def _retriever(kb):
    return kb._scope("").retriever


def score(kb, recipe, questions, routing: bool = True) -> tuple[dict, dict, list[dict]]:
    """docchat's and the recipe's summaries over ``questions``, and the per-question hits."""
    retriever = _retriever(kb)
    previous, retriever.routing = retriever.routing, routing
    try:
        docchat_runs, recipe_runs, per_question = [], [], []
        for q in questions:
            ours = docchat_pages(kb.search(q.question, k=K))
            theirs = recipe.search(q.question, k=K) if recipe is not None else []
            docchat_runs.append((ours, q.gold))
            recipe_runs.append((theirs, q.gold))
            per_question.append({"id": q.id, "docchat_rank_hit": recall_at_k(ours, q.gold, K),
                                 "recipe_rank_hit": recall_at_k(theirs, q.gold, K)})
    finally:
        retriever.routing = previous
    return ranking_summary(docchat_runs, ks=(1, K)), ranking_summary(recipe_runs, ks=(1, RECIPE_K, K)), per_question


def run(bench: Bench) -> dict:
    bench.index_finance()
    corpus = bench.finance_corpus()
    kb = bench.finance_docchat.knowledge_base
    docchat, recipe, per_question = score(kb, bench.finance_recipe, corpus.questions)
    no_routing, _, _ = score(kb, None, corpus.questions, routing=False)
    margin = docchat[f"recall@{K}"] - recipe[f"recall@{K}"]
    result = {
        "files": len(corpus.pdfs),
        "docchat": docchat,
        "docchat_no_routing": no_routing,
        "recipe": recipe,
        "recall@5_margin": margin,
        "target": f"docchat recall@5 >= recipe + {TARGET_MARGIN}"
                  + ("" if bench.options.quick else f" and >= {TARGET_TWELVE}"),
        "met": margin >= TARGET_MARGIN - 1e-9 and (bench.options.quick or docchat[f"recall@{K}"] >= TARGET_TWELVE),
        "per_question": per_question,
    }
    if not bench.options.quick:
        result["sets"] = {}
        for rset in extra_sets(bench):
            try:
                result["sets"][rset.name] = run_set(bench, rset)
            except Exception as exc:  # one set failing must not hide the others
                log.exception("retrieval set %s failed", rset.name)
                result["sets"][rset.name] = {"error": f"{type(exc).__name__}: {exc}"}
        result["met"] = result["met"] and all(s.get("met") for s in result["sets"].values())
    return result


def extra_sets(bench: Bench) -> list[RetrievalSet]:
    eval_dir = bench.options.eval_dir
    wanted = bench.options.retrieval_sets or EXTRA_SETS
    sets = []
    if "financebench_all" in wanted and (eval_dir / "financebench_more").is_dir():
        sets.append(union("financebench_all", load_finance_set(eval_dir), load_finance_set(eval_dir, "financebench_more")))
    if "mmlongbench" in wanted and (eval_dir / "mmlongbench").is_dir():
        sets.append(load_mmlongbench(eval_dir))
    return sets


def run_set(bench: Bench, rset: RetrievalSet) -> dict:
    """Index ``rset`` with both sides (or reuse the cache) and score it, by subset for the 54."""
    from bench.index_cache import docchat_index, recipe_index

    kb = docchat_index(bench, rset, bench.options.index_cache)
    recipe = recipe_index(bench, rset, bench.options.index_cache)
    subsets = {"all": rset.questions}
    if rset.name == "financebench_all":
        twelve = {p.stem for p in load_finance_set(bench.options.eval_dir).pdfs}
        subsets["the twelve's questions"] = [q for q in rset.questions if q.doc_name in twelve]
        subsets["the 42's questions"] = [q for q in rset.questions if q.doc_name not in twelve]
    rows = {}
    for label, questions in subsets.items():
        docchat, recipe_summary, _ = score(kb, recipe, questions)
        no_routing, _, _ = score(kb, None, questions, routing=False)
        rows[label] = {"docchat": docchat, "docchat_no_routing": no_routing, "recipe": recipe_summary}
    margin = rows["all"]["docchat"][f"recall@{K}"] - rows["all"]["recipe"][f"recall@{K}"]
    target = SET_TARGETS.get(rset.name, TARGET_MARGIN)
    return {"files": len(rset.pdfs), "questions": len(rset.questions), "subsets": rows,
            "recall@5_margin": margin, "target": f"docchat recall@5 >= recipe + {target}",
            "met": margin >= target - 1e-9}
