"""Measurement 2b: the shipped condense adapter, before/after, on CAsT dialogues held out of training.

``llm/lora_adapters/smollm2-condense`` was trained by ``python -m train --task
condense`` on CAsT 2021 topics minus the dev topics named in its ``finetune.json``.
On those held-out topics' follow-ups, with one loaded model, each rewrite is made twice
— base model ("before") and with the adapter ("after", what docchat now does) — and
scored against the manual rewrite (sacrebleu BLEU/chrF) and by retrieval: recall@5 of
the turn's passage for the condensed query alone and for every fusion strategy, next to
the raw utterance and the gold rewrite. Corpus: all 13 topics' passages, as in
bench/conversational.py.

Targets (issue 14): condensed-only >= raw; the default strategy >= 0.95 x gold rewrite.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace

from bench.conversational import CORPUS_STEM, K, STRATEGIES, _pages, history_messages
from bench.data import GoldPage, cast_passages, load_cast, write_passages_pdf
from bench.harness import Bench
from bench.metrics import ranking_summary

log = logging.getLogger(__name__)

TARGET_SHARE_OF_GOLD = 0.95


def run(bench: Bench) -> dict:
    import sacrebleu

    from llm.adapters import BASE, CONDENSE, SHIPPED_CONDENSE
    from rag.condense import CONDENSE_PARAMS, build_condense_messages, clean_condensed, retrieval_queries
    from settings import Settings

    card = json.loads((SHIPPED_CONDENSE / "finetune.json").read_text())
    dev_topics = {int(t) for t in card["dev_ids"]}
    llm = bench.llm
    if CONDENSE not in getattr(llm, "adapters", {}):
        raise RuntimeError(f"{llm.name} runs without the condense adapter; nothing to compare")
    all_turns = load_cast(bench.options.eval_dir)
    passages = cast_passages(all_turns)
    page_of = {p: i + 1 for i, p in enumerate(passages)}
    turns = [t for t in all_turns if t.topic in dev_topics and t.history]
    if not turns:
        raise RuntimeError(f"no follow-up of the held-out CAsT topics {sorted(dev_topics)} in {bench.options.eval_dir}")
    if bench.options.quick:
        turns = turns[:4]
    pdf = write_passages_pdf(passages, bench.work_dir / f"{CORPUS_STEM}.pdf")
    services = bench.services("cast")
    services.knowledge_base.add_file(pdf, pdf.name)  # "duplicate" when bench.conversational indexed it

    sides = {"before": BASE, "after": CONDENSE}
    rewrites: dict[str, list[str]] = {side: [] for side in sides}
    runs: dict[str, list] = {"raw": [], "manual": []}
    runs.update({f"{side}:{s}": [] for side in sides for s in STRATEGIES})
    examples = []
    for turn in turns:
        gold = {GoldPage(CORPUS_STEM, page_of[turn.passage])}
        history = history_messages(turn)
        messages = build_condense_messages(history, turn.raw)
        runs["raw"].append((_pages(services.knowledge_base.search(turn.raw, k=K)), gold))
        runs["manual"].append((_pages(services.knowledge_base.search(turn.manual, k=K)), gold))
        made = {}
        for side, role in sides.items():
            text = llm.complete(messages, replace(CONDENSE_PARAMS, adapter=role)).text
            made[side] = clean_condensed(text, turn.raw)
            rewrites[side].append(made[side])
            for strategy in STRATEGIES:
                queries = retrieval_queries(strategy, turn.raw, made[side], history)
                runs[f"{side}:{strategy}"].append((_pages(services.knowledge_base.search(queries, k=K)), gold))
        if len(examples) < 8:
            examples.append({"topic": turn.topic, "turn": turn.number, "raw": turn.raw, **made, "manual": turn.manual})

    manual = [t.manual for t in turns]
    rewrite_scores = {
        name: {"bleu": round(sacrebleu.corpus_bleu(hyps, [manual]).score, 1),
               "chrf": round(sacrebleu.corpus_chrf(hyps, [manual]).score, 1)}
        for name, hyps in (("raw", [t.raw for t in turns]), *rewrites.items())
    }
    recall = {name: ranking_summary(r, ks=(1, K)) for name, r in runs.items()}
    default = Settings().retrieval_strategy
    best_after = max(STRATEGIES, key=lambda s: (recall[f"after:{s}"][f"recall@{K}"], recall[f"after:{s}"]["mrr"]))
    r5 = {name: value[f"recall@{K}"] for name, value in recall.items()}
    return {
        "chat_model": llm.name,
        "dev_topics": sorted(dev_topics),
        "followups": len(turns),
        "passages": len(passages),
        "training": {k: card.get(k) for k in ("train_examples", "steps_done", "train_seconds", "loss_first",
                                               "loss_last", "dev_before", "dev_after", "device")},
        "rewrite": rewrite_scores,
        "recall": recall,
        "default_strategy": default,
        "best_strategy_after": best_after,
        "targets": {
            "condensed_only_vs_raw": [r5["after:standalone"], r5["raw"]],
            "default_vs_gold": [r5[f"after:{default}"], round(TARGET_SHARE_OF_GOLD * r5["manual"], 3)],
        },
        "target": f"condensed-only recall@5 >= raw; default ({default}) >= {TARGET_SHARE_OF_GOLD} x gold rewrite",
        "met": r5["after:standalone"] >= r5["raw"] and r5[f"after:{default}"] >= TARGET_SHARE_OF_GOLD * r5["manual"],
        "examples": examples,
    }
