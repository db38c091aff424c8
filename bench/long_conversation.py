"""Measurement 7: a scripted 100-turn conversation — prompt tokens and latency per turn.

One stored conversation over the indexed FinanceBench filings; questions cycle through
FinanceBench questions and short follow-ups. Condensing is switched off here (its prompt
is capped at a few turns, so it adds a constant, not growth, and it would double the
run time); what is measured is the window: prompt tokens must stay within the budget
(context window − max new tokens) and turn latency must not grow with the history.
"""

from __future__ import annotations

import logging
import statistics
import time

from bench.harness import Bench

log = logging.getLogger(__name__)

TURNS = 100
QUICK_TURNS = 10
MAX_NEW_TOKENS = 16
K = 3  # fewer retrieved passages than the default 5 keep 100 CPU turns within the bench's 30 minutes
FOLLOW_UPS = ("And the year before?", "Explain that in one sentence.", "Which page says so?")
TARGET_LATENCY_RATIO = 1.2


def script(questions: list[str], turns: int) -> list[str]:
    """Question, follow-up, question, follow-up, ... — deterministic."""
    out = []
    for i in range(turns):
        if i % 2 == 0:
            out.append(questions[(i // 2) % len(questions)])
        else:
            out.append(FOLLOW_UPS[(i // 2) % len(FOLLOW_UPS)])
    return out


def run(bench: Bench) -> dict:
    from llm.types import GenerationParams
    from rag.pipeline import ConversationManager, TurnRequest

    bench.index_finance()
    base = bench.finance_docchat
    settings = base.settings.model_copy(update={"condense": False})
    cm = ConversationManager(settings, llm=base.llm, knowledge_base=base.knowledge_base, history=base.history)
    params = GenerationParams(max_new_tokens=MAX_NEW_TOKENS, temperature=0.0, repetition_penalty=1.1)
    turns = bench.options.long_turns or (QUICK_TURNS if bench.options.quick else TURNS)
    budget = base.llm.context_window - MAX_NEW_TOKENS
    rows = []
    conversation_id = None
    for n, text in enumerate(script([q.question for q in bench.finance_corpus().questions], turns), start=1):
        start = time.perf_counter()
        result = cm.run_turn(TurnRequest(user_id="long-conversation", text=text, params=params, k=K,
                                         conversation_id=conversation_id, new_conversation=n == 1))
        seconds = time.perf_counter() - start
        conversation_id = result.conversation_id
        rows.append({"turn": n, "prompt_tokens": result.usage.prompt_tokens or result.prompt_tokens,
                     "completion_tokens": result.usage.completion_tokens, "latency_s": seconds,
                     "ttft_s": result.timings.get("first_token_s", result.timings.get("generate_s", 0.0)),
                     "cached_prompt_tokens": result.usage.cached_prompt_tokens,
                     "generate_s": result.timings.get("generate_s", 0.0)})
    early = [r["latency_s"] for r in rows[2:7]] or [rows[0]["latency_s"]]
    late = [r["latency_s"] for r in rows[-5:]]
    ratio = statistics.median(late) / statistics.median(early) if early else 0.0
    # Issue 17's target: time to first token of the last turns vs turns 3-7 (the prefix cache's effect).
    early_ttft = [r["ttft_s"] for r in rows[2:7]] or [rows[0]["ttft_s"]]
    ttft_ratio = statistics.median([r["ttft_s"] for r in rows[-5:]]) / statistics.median(early_ttft) \
        if statistics.median(early_ttft) else 0.0
    max_prompt = max(r["prompt_tokens"] for r in rows)
    return {
        "turns": turns,
        "max_new_tokens": MAX_NEW_TOKENS,
        "context_window": base.llm.context_window,
        "history_token_budget": settings.history_token_budget,
        "prompt_budget": budget,
        "max_prompt_tokens": max_prompt,
        "latency_ratio_last5_vs_turns3to7": ratio,
        "ttft_ratio_last5_vs_turns3to7": ttft_ratio,
        "cached_turns": sum(1 for r in rows if r["cached_prompt_tokens"]),
        "target": f"prompt tokens <= {budget}; late-turn time to first token <= {TARGET_LATENCY_RATIO} x early",
        "met": max_prompt <= budget and ttft_ratio <= TARGET_LATENCY_RATIO,
        "rows": rows,
    }
