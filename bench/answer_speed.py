"""Measurement 3b: what a real answer costs on this machine, per offline Qwen model.

For each model (0.5B and 1.5B through llama.cpp), on the twelve filings' index:
- first turns, side by side with bare llama-cpp-python on the very prompt docchat built
  (``create_chat_completion`` on a second ``Llama`` of the same file and threads, its KV reset
  before each call; the order alternates per question so machine drift touches both): time
  to first token of the whole docchat turn (retrieval, prompt, prefill) against the bare
  prefill alone, prompt tokens, decode tokens/s;
- a stored conversation of follow-ups: per turn the prompt tokens, how many came from the
  KV cache, how many were prefilled, and how many changed since the previous turn's prompt
  (the target: prefilled ≤ 1.1 × changed), with the condense call counted in the TTFT;
- speculative decoding (llm/speculation.py): the first turns' prompts answered again at full
  length with each drafter on the same backend (the prompt's KV reused, so only decoding
  differs): decode tokens/s against one-token decoding, whether the greedy text is byte for
  byte the same, the share of drafted tokens accepted, tokens per forward pass, RSS.
"""

from __future__ import annotations

import logging
import statistics
import time
from typing import Any

from bench.harness import Bench, docchat_settings
from bench.metrics import decode_tokens_per_s

log = logging.getLogger(__name__)

MODELS = ("qwen2.5-0.5b", "qwen2.5-1.5b")
FIRST_TURNS = 4
QUICK_FIRST_TURNS = 2
FOLLOW_UPS = ("And how did that compare with the year before?", "Which part of the filing says so?",
              "Summarise that in one sentence.")
NEW_TOKENS = 32
SPECULATION_TOKENS = 256  # a whole answer: speculation pays on long copied spans
PROMPT_LOOKUP_TOKENS = (5, 10, 16)  # most tokens drafted a pass, each measured (the backend adapts below it)


def _greedy() -> Any:
    from llm.types import GenerationParams

    return GenerationParams(max_new_tokens=NEW_TOKENS, temperature=0.0, repetition_penalty=1.0)


def _docchat_turn(cm: Any, req: Any) -> dict:
    started = time.perf_counter()
    stream = cm.stream_turn(req)
    first = None
    for _ in stream:
        if first is None:
            first = time.perf_counter() - started
    result = stream.result
    return {
        "ttft_s": first if first is not None else time.perf_counter() - started,
        "prompt_tokens": result.usage.prompt_tokens,
        "cached_tokens": result.usage.cached_prompt_tokens,
        "completion_tokens": result.usage.completion_tokens,
        "decode_tok_s": decode_tokens_per_s(result.usage.completion_tokens, result.timings.get("first_token_s"),
                                            result.timings.get("generate_s")),
        "condense_s": result.timings.get("condense_s", 0.0),
        "messages": stream.prompt_messages,
        "text": result.text,
    }


def _bare_ttft(llama: Any, messages: list) -> float:
    llama.reset()  # no prefix from the previous call: the same cold start docchat gets
    started = time.perf_counter()
    for chunk in llama.create_chat_completion(messages=messages, stream=True, max_tokens=NEW_TOKENS, temperature=0.0,
                                              repeat_penalty=1.0):
        if chunk["choices"][0]["delta"].get("content"):
            return time.perf_counter() - started
    return time.perf_counter() - started


def _model_run(bench: Bench, model: str, questions: list) -> dict:
    from llama_cpp import Llama

    from llm.factory import make_backend
    from llm.prefix_cache import common_prefix
    from rag.types import TurnRequest
    from services import ConversationManager
    from storage.history import HistoryManager

    services = bench.finance_docchat
    backend = make_backend(docchat_settings(bench.work_dir / "unused", model=model))
    history = HistoryManager(services.db)
    # Against bare llama.cpp: the turn without its search plan (the same prompt, nothing else);
    # the plan's own cost is measured beside it (with_plan), question by question.
    cm = ConversationManager(services.settings.model_copy(update={"search_phrasings": False}), llm=backend,
                             knowledge_base=services.knowledge_base, history=history)
    cm_plan = ConversationManager(services.settings.model_copy(update={"search_phrasings": True}), llm=backend,
                                  knowledge_base=services.knowledge_base, history=history)
    bare = Llama(str(backend.model_path), n_ctx=backend.context_window, n_threads=backend.threads,
                 n_threads_batch=backend.threads, verbose=False)
    first_turns = []
    for i, q in enumerate(questions):
        req = TurnRequest(user_id="speed", text=q.question, params=_greedy(), history=[], persist=False)
        if i % 2:
            turn = _docchat_turn(cm, req)
            bare_s = _bare_ttft(bare, turn["messages"])
        else:  # the bare call needs docchat's prompt: build it first, then time bare before docchat
            warm = cm.stream_turn(req)
            warm.start()  # retrieval and the prompt, nothing generated yet
            warm.close()  # stopped before its prefill
            bare_s = _bare_ttft(bare, warm.prompt_messages)
            turn = _docchat_turn(cm, req)
        planned = _docchat_turn(cm_plan, req)
        first_turns.append({"id": q.id, "messages": turn["messages"], "docchat_ttft_s": turn["ttft_s"], "bare_ttft_s": bare_s,
                            "prompt_tokens": turn["prompt_tokens"], "decode_tok_s": turn["decode_tok_s"],
                            "with_plan_ttft_s": planned["ttft_s"], "plan_s": planned["condense_s"]})
        log.info("%s first turn %s: docchat %.1f s, bare %.1f s, %d prompt tokens", model, q.id,
                 turn["ttft_s"], bare_s, turn["prompt_tokens"])
    del bare

    conversation = []
    conv_id, previous = None, None
    for text in (questions[0].question, *FOLLOW_UPS):
        req = TurnRequest(user_id="speed-conversation", text=text, params=_greedy(), conversation_id=conv_id,
                          new_conversation=conv_id is None)
        turn = _docchat_turn(cm, req)
        ids = backend.encode_chat(turn["messages"])
        changed = len(ids) - common_prefix(previous, ids) if previous is not None else len(ids)
        prefilled = turn["prompt_tokens"] - turn["cached_tokens"]
        conversation.append({"prompt_tokens": turn["prompt_tokens"], "cached_tokens": turn["cached_tokens"],
                             "prefilled_tokens": prefilled, "changed_tokens": changed,
                             "ttft_s": turn["ttft_s"], "condense_s": turn["condense_s"]})
        previous = ids
        if conv_id is None:
            conv_id = cm.history_manager.list_conversations("speed-conversation")[0].id
    speculation = speculation_run(backend, [(t["id"], t["messages"]) for t in first_turns], drafters(backend, model))
    ratios = [t["docchat_ttft_s"] / t["bare_ttft_s"] for t in first_turns if t["bare_ttft_s"]]
    follow = conversation[1:]
    return {
        "model": backend.name,
        "threads": backend.threads,
        "first_turns": [{k: v for k, v in t.items() if k != "messages"} for t in first_turns],
        "ttft_p50_s": statistics.median(t["docchat_ttft_s"] for t in first_turns),
        "bare_ttft_p50_s": statistics.median(t["bare_ttft_s"] for t in first_turns),
        "ttft_ratio_p50": statistics.median(ratios) if ratios else None,
        "with_plan_ttft_p50_s": statistics.median(t["with_plan_ttft_s"] for t in first_turns),
        "plan_p50_s": statistics.median(t["plan_s"] for t in first_turns),
        # the search plan's added time to first token, over the turn's without it (target <= 0.30)
        "plan_share_p50": statistics.median((t["with_plan_ttft_s"] - t["docchat_ttft_s"]) / t["docchat_ttft_s"]
                                            for t in first_turns),
        "prompt_tokens_mean": statistics.mean(t["prompt_tokens"] for t in first_turns),
        "decode_tok_s_p50": statistics.median(t["decode_tok_s"] for t in first_turns if t["decode_tok_s"]),
        "conversation": conversation,
        "follow_up_prefill_over_changed_max": max(t["prefilled_tokens"] / max(1, t["changed_tokens"]) for t in follow),
        "follow_up_cached_share": sum(t["cached_tokens"] for t in follow) / max(1, sum(t["prompt_tokens"] for t in follow)),
        "speculation": speculation,
    }


def drafters(backend: Any, model: str) -> dict[str, Any]:
    """The drafters to compare on ``backend``: none, prompt lookup at each draft length, and for
    the 1.5B the bundled 0.5B as a draft model (loaded here, so its memory shows in the RSS)."""
    from llm.bundled_models import QWEN_0_5B, QWEN_1_5B, assemble
    from llm.speculation import DraftModel, PromptLookup

    chosen: dict[str, Any] = {"off": None}
    for n in PROMPT_LOOKUP_TOKENS:
        chosen[f"prompt-lookup {n}"] = PromptLookup(num_pred_tokens=n)
    if model == QWEN_1_5B.short_name:
        chosen["draft-model"] = lambda: DraftModel(assemble(QWEN_0_5B), threads=backend.threads,
                                                   context_window=backend.context_window)
    return chosen


def _speculative_answer(backend: Any, messages: list, params: Any) -> dict:
    started = time.perf_counter()
    first = None
    stream = backend.stream(messages, params)
    pieces = []
    for piece in stream:
        pieces.append(piece)
        if first is None:
            first = time.perf_counter()
    ended = time.perf_counter()
    u = stream.usage
    return {"text": "".join(pieces), "tokens": u.completion_tokens, "drafted": u.draft_tokens,
            "accepted": u.accepted_draft_tokens, "passes": u.forward_passes,
            "decode_s": ended - first if first is not None else 0.0, "ttft_s": (first or ended) - started}


def _rss_mb() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def speculation_run(backend: Any, prompts: list[tuple[str, list]], choices: dict[str, Any],
                    params: Any = None) -> dict:
    """Each prompt answered with each drafter in ``choices`` (a drafter, None, or a function that
    loads one: it is loaded after the others ran, so the RSS before it is the one without it).
    The prompt's KV stays in the context between drafters (one cache key per prompt, prefilled
    before the first), so each answer prefills one token; decode tokens/s counts the tokens
    after the first over the time after the first."""
    from dataclasses import replace

    from llm.types import GenerationParams

    params = params or GenerationParams(max_new_tokens=SPECULATION_TOKENS, temperature=0.0, repetition_penalty=1.0)
    later = {name: d for name, d in choices.items() if callable(d)}
    loaded = {name: d for name, d in choices.items() if name not in later}
    answers: dict[str, dict[str, dict]] = {name: {} for name in choices}
    rss: dict[str, float] = {}
    saved = backend.drafter
    try:
        for group in (loaded, later):
            group = {name: (d() if name in later else d) for name, d in group.items()}
            for pid, messages in prompts:
                # prefill once; every drafter then re-evaluates the prompt's last token alone (a
                # token's logits from a long prefill chunk differ slightly from its logits alone)
                backend.drafter = None
                "".join(backend.stream(messages, replace(params, max_new_tokens=1, cache_key=f"speculation\x1f{pid}")))
                for name, drafter in group.items():
                    backend.drafter = drafter
                    key = f"speculation\x1f{pid}"
                    answers[name][pid] = _speculative_answer(backend, messages, replace(params, cache_key=key))
                    log.info("speculation %s on %s: %d tokens, %.1f tok/s, %d/%d drafts accepted", name, pid,
                             answers[name][pid]["tokens"], _rate([answers[name][pid]]) or 0.0,
                             answers[name][pid]["accepted"], answers[name][pid]["drafted"])
            for name in group:
                rss[name] = _rss_mb()
            del group
    finally:
        backend.drafter = saved
    off = answers.get("off", {})
    rows = {}
    for name, by_prompt in answers.items():
        runs = list(by_prompt.values())
        drafted = sum(r["drafted"] for r in runs)
        speedups = [_rate([r]) / _rate([off[pid]]) for pid, r in by_prompt.items()
                    if pid in off and _rate([r]) and _rate([off[pid]])]
        rows[name] = {
            "answers": len(runs),
            "tokens": sum(r["tokens"] for r in runs),
            "decode_tok_s": _rate(runs),
            "speedup": (_rate(runs) / _rate(list(off.values()))) if off and _rate(runs) and _rate(list(off.values())) else None,
            "speedup_p50": statistics.median(speedups) if speedups else None,
            "same_text": sum(1 for pid, r in by_prompt.items() if pid in off and r["text"] == off[pid]["text"]),
            "acceptance": sum(r["accepted"] for r in runs) / drafted if drafted else None,
            "tokens_per_pass": sum(r["tokens"] for r in runs) / max(1, sum(r["passes"] for r in runs)),
            "rss_mb": rss.get(name),
        }
    return {"max_new_tokens": params.max_new_tokens, "greedy": params.greedy, "rows": rows,
            "off_texts": {pid: r["text"] for pid, r in off.items()},
            "answers": {name: {pid: {k: v for k, v in r.items() if k != "text"} for pid, r in by_prompt.items()}
                        for name, by_prompt in answers.items()}}


def _rate(runs: list[dict]) -> float | None:
    """Decode tokens/s over ``runs``: tokens after each first one, over the time after it."""
    seconds = sum(r["decode_s"] for r in runs)
    tokens = sum(max(0, r["tokens"] - 1) for r in runs)
    return tokens / seconds if seconds > 0 and tokens else None


def run(bench: Bench) -> dict:
    bench.index_finance()
    n = QUICK_FIRST_TURNS if bench.options.quick else FIRST_TURNS
    questions = bench.finance_corpus().questions[:n]
    return {"new_tokens": NEW_TOKENS, "models": {model: _model_run(bench, model, questions) for model in MODELS}}
