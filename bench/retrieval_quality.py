"""Measurement 1: page-level recall@1/@5 and MRR on FinanceBench, docchat vs the recipe.

All filings are indexed together. A question counts as found at k when any of the top-k
chunks comes from a gold (document, page). The recipe's retriever returns k=4 by
default; to compare recall@5 on equal terms we ask both sides for their top 5 and also
report the recipe's as-shipped recall@4.
"""

from __future__ import annotations

import logging

from bench.data import GoldPage
from bench.harness import Bench
from bench.metrics import ranking_summary, recall_at_k
from bench.recipe import RECIPE_K

log = logging.getLogger(__name__)

K = 5
TARGET_MARGIN = 0.15


def docchat_pages(sources) -> list[GoldPage]:
    """Sources as (file stem, page); ``filename`` is the PDF's file name."""
    return [GoldPage(s.filename.rsplit(".", 1)[0], s.page) for s in sources]


def run(bench: Bench) -> dict:
    bench.index_finance()
    corpus = bench.finance_corpus()
    kb = bench.finance_docchat.knowledge_base
    per_question = []
    docchat_runs, recipe_runs = [], []
    for q in corpus.questions:
        ours = docchat_pages(kb.search(q.question, k=K))
        theirs = bench.finance_recipe.search(q.question, k=K)
        docchat_runs.append((ours, q.gold))
        recipe_runs.append((theirs, q.gold))
        per_question.append({"id": q.id, "docchat_rank_hit": recall_at_k(ours, q.gold, K),
                             "recipe_rank_hit": recall_at_k(theirs, q.gold, K)})
    docchat = ranking_summary(docchat_runs, ks=(1, K))
    recipe = ranking_summary(recipe_runs, ks=(1, RECIPE_K, K))
    margin = docchat[f"recall@{K}"] - recipe[f"recall@{K}"]
    return {
        "files": len(corpus.pdfs),
        "docchat": docchat,
        "recipe": recipe,
        "recall@5_margin": margin,
        "target": f"docchat recall@5 >= recipe + {TARGET_MARGIN}",
        "met": margin >= TARGET_MARGIN - 1e-9,
        "per_question": per_question,
    }
