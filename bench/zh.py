"""Optional ``--zh`` check: Chinese retrieval and condensing on the Chinese paper.

Page-level recall@1/@5 of docchat for every question; for follow-up turns also the
standalone query from condensing (all retrieval strategies) against the gold rewrite.
The recipe indexes the same PDF for reference (raw questions only).
"""

from __future__ import annotations

import logging

from bench.data import GoldPage, load_zh
from bench.harness import Bench
from bench.metrics import ranking_summary
from bench.recipe import RecipeIndex

log = logging.getLogger(__name__)

K = 5
STRATEGIES = ("standalone", "raw", "standalone+raw", "standalone+raw+prev")


def run(bench: Bench) -> dict:
    from rag.condense import condense_question, retrieval_queries

    pdf, turns = load_zh(bench.options.eval_dir)
    services = bench.services("zh")
    ingest = services.knowledge_base.add_file(pdf, pdf.name)
    recipe = RecipeIndex(bench.recipe_embeddings, bench.work_dir / "recipe-zh")
    recipe.build([pdf])
    kb = services.knowledge_base

    def pages(sources):
        return [GoldPage(s.filename.rsplit(".", 1)[0], s.page) for s in sources]

    first, recipe_first = [], []
    follow: dict[str, list] = {name: [] for name in ("raw", "rewrite", *STRATEGIES)}
    examples = []
    for turn in turns:
        gold = {GoldPage(pdf.stem, p) for p in turn.pages}
        if not turn.history:
            first.append((pages(kb.search(turn.question, k=K)), gold))
            recipe_first.append((recipe.search(turn.question, k=K), gold))
            continue
        history = [{"role": "user", "content": q} for q in turn.history]
        # the earlier answers are not scripted: the previous question stands in for them
        history = [m for q in history for m in (q, {"role": "assistant", "content": ""})]
        standalone = condense_question(bench.llm, history, turn.question)
        examples.append({"q": turn.question, "standalone": standalone, "rewrite": turn.rewrite})
        follow["raw"].append((pages(kb.search(turn.question, k=K)), gold))
        follow["rewrite"].append((pages(kb.search(turn.rewrite or turn.question, k=K)), gold))
        for strategy in STRATEGIES:
            queries = retrieval_queries(strategy, turn.question, standalone, history)
            follow[strategy].append((pages(kb.search(queries, k=K)), gold))
    return {
        "chunks": ingest.chunks,
        "first_turns": {"docchat": ranking_summary(first), "recipe": ranking_summary(recipe_first)},
        "followups": {name: ranking_summary(r) for name, r in follow.items()},
        "examples": examples,
    }
