"""Measurement 2c: what the model's search plan does to retrieval (issue "retrieval that
understands the question"), before/after on the same indexes, every set.

Before: the question as asked on first turns; on follow-ups the older rewrite-only condense
call (``condense_question``) fused with the raw question (the shipped strategy). After: one
``plan_search`` call per turn (rag/condense.py): its standalone question + the raw one, and
its phrasings fused at a few weights (the setting ``phrasing_weight`` is chosen here, on all
sets together). Page-level recall@1/@5 and MRR on the twelve filings, all 54 filings indexed
together, MMLongBench-Doc, the Chinese paper (all turns) and TREC CAsT (all turns, and the
follow-ups alone). The plan's own time is reported (p50 per turn); its share of the time
to first token is measured side by side in answer_speed.

Plans are kept in ``--index-cache`` (keyed by model and prompt), so a rerun only searches.
"""

from __future__ import annotations

import hashlib
import json
import logging
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.data import (
    GoldPage,
    RetrievalSet,
    cast_passages,
    load_cast,
    load_finance_set,
    load_mmlongbench,
    load_zh,
    union,
    write_passages_pdf,
)
from bench.harness import Bench
from bench.markdown import table
from bench.metrics import ranking_summary

log = logging.getLogger(__name__)

K = 5
WEIGHTS = (0.25, 0.5, 1.0)
SETS = ("financebench", "financebench_all", "mmlongbench", "zh", "cast")


@dataclass
class Turn:
    """One question to search for, with the conversation before it and its gold pages."""

    id: str
    question: str
    gold: set[GoldPage]
    history: list[dict] = field(default_factory=list)


def _pages(sources) -> list[GoldPage]:
    return [GoldPage(s.filename.rsplit(".", 1)[0], s.page) for s in sources]


class PlanCache:
    """Plans (and the older condense rewrites) per (kind, history, question), on disk when asked."""

    def __init__(self, llm: Any, folder: Path | None) -> None:
        from rag.condense import QUERY_SYSTEM_EN, QUERY_SYSTEM_ZH

        self.llm = llm
        tag = hashlib.sha256(f"{llm.name}\n{QUERY_SYSTEM_EN}\n{QUERY_SYSTEM_ZH}".encode()).hexdigest()[:12]
        self.path = folder / f"search-plans-{tag}.jsonl" if folder else None
        self.rows: dict[str, dict] = {}
        if self.path and self.path.exists():
            for line in self.path.read_text("utf-8").splitlines():
                row = json.loads(line)
                self.rows[row["key"]] = row

    def _get(self, kind: str, turn: Turn, make) -> dict:
        key = hashlib.sha256(json.dumps([kind, turn.history, turn.question]).encode()).hexdigest()
        if key not in self.rows:
            start = time.perf_counter()
            value = make()
            row = {"key": key, "value": value, "seconds": time.perf_counter() - start}
            self.rows[key] = row
            if self.path:
                with self.path.open("a", encoding="utf-8") as f:
                    f.write(json.dumps(row, ensure_ascii=False) + "\n")
        return self.rows[key]

    def plan(self, turn: Turn) -> tuple[str, list[str], float]:
        from rag.condense import plan_search

        row = self._get("plan", turn, lambda: (lambda p: [p.question, list(p.phrasings)])(
            plan_search(self.llm, turn.history, turn.question)))
        return row["value"][0], row["value"][1], row["seconds"]

    def condensed(self, turn: Turn) -> str:
        from rag.condense import condense_question

        return self._get("condense", turn, lambda: condense_question(self.llm, turn.history, turn.question))["value"]


def score_set(kb: Any, turns: list[Turn], plans: PlanCache, strategy: str) -> dict:
    """Before/after summaries over ``turns`` (and over its follow-ups alone, when it has any)."""
    from rag.condense import retrieval_queries

    runs: dict[str, list] = {"before": [], "plan_rewrite_only": [], **{f"plan_w{w}": [] for w in WEIGHTS}}
    follow: dict[str, list] = {name: [] for name in runs}
    seconds, examples = [], []
    for turn in turns:
        standalone_before = plans.condensed(turn) if turn.history else turn.question
        before = retrieval_queries(strategy, turn.question, standalone_before, turn.history)
        standalone, phrasings, took = plans.plan(turn)
        seconds.append(took)
        after = retrieval_queries(strategy, turn.question, standalone, turn.history)
        ranked = {"before": kb.search(before, k=K), "plan_rewrite_only": kb.search(after, k=K)}
        for w in WEIGHTS:
            ranked[f"plan_w{w}"] = kb.search(after, k=K, phrasings=phrasings, phrasing_weight=w)
        for name, sources in ranked.items():
            runs[name].append((_pages(sources), turn.gold))
            if turn.history:
                follow[name].append((_pages(sources), turn.gold))
        if len(examples) < 6:
            examples.append({"question": turn.question, "standalone": standalone, "phrasings": phrasings})
    out = {"turns": len(turns), "runs": {n: ranking_summary(r, ks=(1, K)) for n, r in runs.items()},
           "plan_p50_s": statistics.median(seconds) if seconds else 0.0, "examples": examples}
    if any(follow.values()):
        out["followups"] = {n: ranking_summary(r, ks=(1, K)) for n, r in follow.items()}
    return out


def _retrieval_set_turns(rset: RetrievalSet) -> list[Turn]:
    return [Turn(q.id, q.question, set(q.gold)) for q in rset.questions]


def _zh_set(eval_dir: Path) -> tuple[RetrievalSet, list[Turn]]:
    pdf, zh_turns = load_zh(eval_dir)
    turns = []
    for t in zh_turns:
        # the earlier answers are not scripted: the previous questions stand in (as bench/zh.py)
        history = [m for q in t.history for m in ({"role": "user", "content": q}, {"role": "assistant", "content": ""})]
        turns.append(Turn(t.dialogue, t.question, {GoldPage(pdf.stem, p) for p in t.pages}, history))
    return RetrievalSet("zh", [pdf], []), turns


def _cast(bench: Bench) -> tuple[Any, list[Turn]]:
    from bench.conversational import CORPUS_STEM, history_messages

    cast = load_cast(bench.options.eval_dir, topics=bench.options.cast_topics or (1 if bench.options.quick else None))
    passages = cast_passages(cast)
    page_of = {p: i + 1 for i, p in enumerate(passages)}
    pdf = write_passages_pdf(passages, bench.work_dir / f"{CORPUS_STEM}.pdf")
    services = bench.services("cast-plan")
    services.knowledge_base.add_file(pdf, pdf.name)
    turns = [Turn(f"{t.topic}-{t.number}", t.raw, {GoldPage(CORPUS_STEM, page_of[t.passage])}, history_messages(t))
             for t in cast]
    return services.knowledge_base, turns


def run(bench: Bench) -> dict:
    from bench.index_cache import docchat_index

    eval_dir = bench.options.eval_dir
    strategy = bench.settings(bench.work_dir / "unused").retrieval_strategy
    plans = PlanCache(bench.llm, bench.options.index_cache)
    wanted = bench.options.retrieval_sets or list(SETS)
    results: dict[str, Any] = {"chat_model": bench.llm.name, "strategy": strategy, "weights": list(WEIGHTS),
                               "sets": {}}
    for name in wanted:
        try:
            if name == "cast":
                kb, turns = _cast(bench)
            else:
                if name == "financebench":
                    rset = load_finance_set(eval_dir)
                    turns = _retrieval_set_turns(rset)
                elif name == "financebench_all":
                    rset = union("financebench_all", load_finance_set(eval_dir),
                                 load_finance_set(eval_dir, "financebench_more"))
                    turns = _retrieval_set_turns(rset)
                elif name == "mmlongbench":
                    rset = load_mmlongbench(eval_dir)
                    turns = _retrieval_set_turns(rset)
                elif name == "zh":
                    rset, turns = _zh_set(eval_dir)
                else:
                    raise ValueError(f"unknown set {name!r}; known: {', '.join(SETS)}")
                if bench.options.answer_questions:
                    turns = turns[: bench.options.answer_questions]
                kb = docchat_index(bench, rset, bench.options.index_cache)
            log.info("search plan: %s, %d turns", name, len(turns))
            results["sets"][name] = score_set(kb, turns, plans, strategy)
        except Exception as exc:  # one set failing must not hide the others
            log.exception("search plan set %s failed", name)
            results["sets"][name] = {"error": f"{type(exc).__name__}: {exc}"}
    return results


LABELS = {"financebench": "FinanceBench, the twelve", "financebench_all": "FinanceBench, all 54 together",
          "mmlongbench": "MMLongBench-Doc", "zh": "Chinese paper (all turns)", "cast": "TREC CAsT (all turns)"}


def render(r: dict) -> str:
    """BENCHMARKS.md section: recall before/after per set, the weights side by side."""
    names = ["before", "plan_rewrite_only", *[f"plan_w{w}" for w in r["weights"]]]
    header = ["set", "turns", "plan p50 s", *[f"{n} R@1 / R@5 / MRR" for n in names]]
    rows = []
    for name, s in r["sets"].items():
        if "error" in s:
            rows.append([LABELS.get(name, name), "–", "–", s["error"]] + [""] * (len(names) - 1))
            continue
        for label, runs in ((LABELS.get(name, name), s["runs"]), (f"{LABELS.get(name, name)}: follow-ups",
                                                                   s.get("followups"))):
            if runs:
                rows.append([label, runs["before"]["n"], round(s["plan_p50_s"], 1),
                             *[f"{runs[n]['recall@1']:.2f} / {runs[n]['recall@5']:.2f} / {runs[n]['mrr']:.2f}"
                               for n in names]])
    text = (f"{r['chat_model']}; retrieval strategy `{r['strategy']}`. *before*: the question as asked "
            "(follow-ups: the rewrite-only condense call + the raw question); *plan_rewrite_only*: the plan's "
            "standalone question + the raw one; *plan_wX*: and the plan's phrasings at weight X in the fusion "
            "(the setting `phrasing_weight`).\n\n")
    return text + table(header, rows) + "\n"

