"""Measurement 2: conversational retrieval on TREC CAsT 2021 — which query finds the passage.

Corpus: every turn's canonical passage, one per page of a generated PDF, indexed by
docchat (and by the recipe for reference). History of a turn: the earlier raw
utterances, with the canonical passages as the assistant's replies. For every turn we
score recall@5 (and MRR) of its passage for

* (a) the raw utterance,
* (b) docchat: ``rag.condense.condense_question`` with the bundled chat model, then
  each retrieval query strategy of ``rag.condense.retrieval_queries`` (standalone,
  raw, standalone+raw, standalone+raw+prev) fused by the hybrid retriever,
* (c) the gold manual rewrite.

The strategy with the best follow-up recall@5 is reported as the recommended default.
"""

from __future__ import annotations

import logging
import time

from bench.data import CastTurn, GoldPage, cast_passages, load_cast, write_passages_pdf
from bench.harness import Bench
from bench.metrics import ranking_summary

log = logging.getLogger(__name__)

K = 5
STRATEGIES = ("standalone", "raw", "standalone+raw", "standalone+raw+prev")
CORPUS_STEM = "cast2021_passages"
TARGET_SHARE_OF_MANUAL = 0.9


def history_messages(turn: CastTurn) -> list[dict]:
    messages: list[dict] = []
    for user, assistant in turn.history:
        messages.append({"role": "user", "content": user})
        messages.append({"role": "assistant", "content": assistant})
    return messages


def _pages(sources) -> list[GoldPage]:
    return [GoldPage(s.filename.rsplit(".", 1)[0], s.page) for s in sources]


def run(bench: Bench) -> dict:
    from rag.condense import condense_question, retrieval_queries

    turns = load_cast(bench.options.eval_dir, topics=bench.options.cast_topics or (1 if bench.options.quick else None))
    passages = cast_passages(turns)
    page_of = {p: i + 1 for i, p in enumerate(passages)}
    pdf = write_passages_pdf(passages, bench.work_dir / f"{CORPUS_STEM}.pdf")
    services = bench.services("cast")
    ingest = services.knowledge_base.add_file(pdf, pdf.name)
    log.info("CAsT corpus: %d passages, %s", len(passages), ingest.status)

    runs: dict[str, list] = {name: [] for name in ("raw", "manual", *STRATEGIES)}
    followup: dict[str, list] = {name: [] for name in runs}
    examples = []
    condense_seconds = []
    for turn in turns:
        gold = {GoldPage(CORPUS_STEM, page_of[turn.passage])}
        history = history_messages(turn)
        start = time.perf_counter()
        standalone = condense_question(bench.llm, history, turn.raw)
        if history:
            condense_seconds.append(time.perf_counter() - start)
        ranked = {
            "raw": services.knowledge_base.search(turn.raw, k=K),
            "manual": services.knowledge_base.search(turn.manual, k=K),
        }
        for strategy in STRATEGIES:
            queries = retrieval_queries(strategy, turn.raw, standalone, history)
            ranked[strategy] = services.knowledge_base.search(queries, k=K)
        for name, sources in ranked.items():
            runs[name].append((_pages(sources), gold))
            if history:
                followup[name].append((_pages(sources), gold))
        if history and len(examples) < 12:
            examples.append({"topic": turn.topic, "turn": turn.number, "raw": turn.raw,
                             "standalone": standalone, "manual": turn.manual})

    all_turns = {name: ranking_summary(r, ks=(1, K)) for name, r in runs.items()}
    followups = {name: ranking_summary(r, ks=(1, K)) for name, r in followup.items()}
    best = max(STRATEGIES, key=lambda s: (followups[s][f"recall@{K}"], followups[s]["mrr"]))
    manual = all_turns["manual"][f"recall@{K}"]
    ours = all_turns[best][f"recall@{K}"]
    return {
        "turns": len(turns),
        "followup_turns": len(followup["raw"]),
        "passages": len(passages),
        "chat_model": bench.llm.name,
        "all_turns": all_turns,
        "followups": followups,
        "best_strategy": best,
        "condense_p50_s": sorted(condense_seconds)[len(condense_seconds) // 2] if condense_seconds else 0.0,
        "target": f"docchat recall@5 >= {TARGET_SHARE_OF_MANUAL} x manual and > raw",
        "met": ours >= TARGET_SHARE_OF_MANUAL * manual and ours > all_turns["raw"][f"recall@{K}"],
        "examples": examples,
    }
