"""Measurement 6: time to first token and tokens/s through the pipeline vs a bare
``model.generate`` on the same prompt, plus the pipeline's per-turn overhead.

The prompt is the one docchat builds for a FinanceBench question (system prompt with the
retrieved context + the question, no history). The bare side renders it with the same
chat template and calls ``model.generate`` with a ``TextIteratorStreamer`` — what a
hand-written script would do. Both are greedy with the same repetition penalty, so they
produce the same tokens; runs alternate so drift hits both sides alike.
"""

from __future__ import annotations

import logging
import statistics
import threading
import time

from bench.harness import Bench

log = logging.getLogger(__name__)

MAX_NEW_TOKENS = 48
REPETITION_PENALTY = 1.1
TARGET_RATIO = 0.95
TARGET_OVERHEAD_MS = 50.0


def _bare_generate(backend, messages: list[dict], max_new_tokens: int) -> dict:
    """``model.generate`` on the chat-templated prompt, streamed; times like the pipeline's."""
    import torch
    from transformers import TextIteratorStreamer

    tokenizer, model = backend.tokenizer, backend.model
    rendered = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    ids = torch.tensor([tokenizer(rendered, add_special_tokens=False)["input_ids"]])
    streamer = TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True)
    out: dict = {}

    def work() -> None:
        with torch.inference_mode():
            result = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids),
                                    max_new_tokens=max_new_tokens, do_sample=False,
                                    repetition_penalty=REPETITION_PENALTY,
                                    pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
                                    streamer=streamer)
        out["tokens"] = int(result.shape[1] - ids.shape[1])

    start = time.perf_counter()
    thread = threading.Thread(target=work)
    thread.start()
    first = None
    for piece in streamer:
        if piece and first is None:
            first = time.perf_counter()
    thread.join()
    end = time.perf_counter()
    first = first or end
    return {"ttft_s": first - start, "tokens": out.get("tokens", 0), "decode_s": end - first,
            "total_s": end - start, "prompt_tokens": int(ids.shape[1])}


def _pipeline_turn(services, question: str, max_new_tokens: int) -> dict:
    from llm.types import GenerationParams
    from rag.pipeline import TurnRequest

    params = GenerationParams(max_new_tokens=max_new_tokens, temperature=0.0,
                              repetition_penalty=REPETITION_PENALTY)
    start = time.perf_counter()
    stream = services.pipeline.stream_turn(
        TurnRequest(user_id="bench", text=question, params=params, history=[], persist=False)
    )
    first = None
    for piece in stream:
        if piece and first is None:
            first = time.perf_counter()
    end = time.perf_counter()
    first = first or end
    result = stream.result
    timings = result.timings
    return {"ttft_s": first - start, "tokens": result.usage.completion_tokens, "decode_s": end - first,
            "total_s": end - start, "prompt_tokens": result.usage.prompt_tokens,
            "model_ttft_s": timings.get("first_token_s", 0.0),
            "overhead_s": timings.get("prepare_s", 0.0) - timings.get("condense_s", 0.0),
            "messages": stream.prompt_messages}


def _rate(runs: list[dict]) -> float:
    """Tokens per second after the first token (decode speed), pooled over runs."""
    tokens = sum(max(r["tokens"] - 1, 0) for r in runs)
    seconds = sum(r["decode_s"] for r in runs)
    return tokens / seconds if seconds else 0.0


def run(bench: Bench) -> dict:
    bench.index_finance()
    services = bench.finance_docchat
    questions = [q.question for q in bench.finance_corpus().questions]
    repeats = 2 if bench.options.quick else 5
    pipeline_runs, bare_runs = [], []
    _pipeline_turn(services, questions[0], 4)  # warm-up
    for i in range(repeats + 1):
        question = questions[i % len(questions)]
        p = _pipeline_turn(services, question, MAX_NEW_TOKENS)
        b = _bare_generate(bench.llm, p.pop("messages"), MAX_NEW_TOKENS)  # the very same prompt
        if i == 0:
            continue  # first pair warms both paths
        if b["prompt_tokens"] != p["prompt_tokens"]:
            log.warning("prompt differs: pipeline %d vs bare %d tokens", p["prompt_tokens"], b["prompt_tokens"])
        pipeline_runs.append(p)
        bare_runs.append(b)

    def med(runs, key):
        return statistics.median(r[key] for r in runs) if runs else 0.0

    pipe_rate, bare_rate = _rate(pipeline_runs), _rate(bare_runs)
    overhead_ms = med(pipeline_runs, "overhead_s") * 1000
    return {
        "runs": len(pipeline_runs),
        "max_new_tokens": MAX_NEW_TOKENS,
        "prompt_tokens_p50": med(pipeline_runs, "prompt_tokens"),
        "pipeline": {"ttft_ms_p50": med(pipeline_runs, "ttft_s") * 1000,
                     "model_ttft_ms_p50": med(pipeline_runs, "model_ttft_s") * 1000,
                     "tokens_per_s": pipe_rate, "overhead_ms_p50": overhead_ms},
        "bare": {"ttft_ms_p50": med(bare_runs, "ttft_s") * 1000, "tokens_per_s": bare_rate},
        "tokens_per_s_ratio": pipe_rate / bare_rate if bare_rate else 0.0,
        "target": f"pipeline tokens/s >= {TARGET_RATIO} x bare; overhead p50 <= {TARGET_OVERHEAD_MS} ms",
        "met": bool(bare_rate) and pipe_rate >= TARGET_RATIO * bare_rate and overhead_ms <= TARGET_OVERHEAD_MS,
    }
