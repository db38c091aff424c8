"""Measure docchat's TransformersBackend on a CUDA GPU: TTFT, tokens/s, stop latency.

Runs two models through the exact code path `--model ... --device cuda` uses:
1. the bundled SmolLM2-135M-Instruct GGUF (real weights), bf16 on the GPU;
2. a model with Qwen2.5-3B-Instruct's exact architecture (36 layers, hidden 2048,
   GQA 16/2 heads, vocab 151,936) in bf16 with random weights — only for speed, where
   the real weights cannot be downloaded (an offline GPU machine). With the real
   weights cached, `python app.py --model Qwen/Qwen2.5-3B-Instruct` takes the same path.
Beside each, a bare `model.generate` on the same prompt gives the overhead ratio.

    python scripts/gpu_check.py --gguf-dir DIR --out results.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import threading
import time
from pathlib import Path

import torch

from llm.transformers_backend import TransformersBackend
from llm.types import GenerationParams

PROMPT = (
    "Summarise the following passage in three sentences.\n\n"
    + "The quarterly report describes revenue growth across all segments, driven by "
    "subscription renewals, new enterprise customers and higher average selling prices. "
    * 8
)


def measure_backend(backend: TransformersBackend, new_tokens: int, runs: int = 3) -> dict:
    messages = [{"role": "user", "content": PROMPT}]
    params = GenerationParams(max_new_tokens=new_tokens, temperature=0.0, repetition_penalty=1.0)
    backend.complete(messages, GenerationParams(max_new_tokens=8, temperature=0.0))  # warm-up
    ttfts, rates, counts = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        stream = backend.stream(messages, params)
        first = None
        for _delta in stream:
            if first is None:
                first = time.perf_counter() - start
        total = time.perf_counter() - start
        n = stream.usage.completion_tokens
        ttfts.append(first or total)
        rates.append(n / max(total - (first or 0), 1e-9))
        counts.append(n)
    prompt_tokens = stream.usage.prompt_tokens
    # Stop latency: cancel after a few tokens, then time until the next request can start.
    cancel = threading.Event()
    stream = backend.stream(messages, GenerationParams(max_new_tokens=2000, temperature=0.0), cancel)
    seen = 0
    for _delta in stream:
        seen += 1
        if seen == 5:
            cancel.set()
            t_cancel = time.perf_counter()
    freed = backend.stream(messages, GenerationParams(max_new_tokens=1, temperature=0.0))
    list(freed)
    stop_to_next = time.perf_counter() - t_cancel
    return {
        "prompt_tokens": prompt_tokens,
        "new_tokens": statistics.median(counts),
        "ttft_s": statistics.median(ttfts),
        "tokens_per_s": statistics.median(rates),
        "stop_to_next_request_s": stop_to_next,
        "finish_reason_after_stop": stream.usage.finish_reason,
    }


def measure_bare_generate(backend: TransformersBackend, new_tokens: int, runs: int = 3) -> dict:
    """The same prompt straight through model.generate (no streamer, no thread)."""
    tok, model = backend.tokenizer, backend.model
    ids = tok.apply_chat_template([{"role": "user", "content": PROMPT}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True)["input_ids"].to(model.device)
    rates = []
    for _ in range(runs):
        torch.cuda.synchronize()
        start = time.perf_counter()
        out = model.generate(ids, max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False)
        torch.cuda.synchronize()
        rates.append((out.shape[1] - ids.shape[1]) / (time.perf_counter() - start))
    return {"tokens_per_s": statistics.median(rates)}


def qwen25_3b_shaped(directory: Path, tokenizer) -> Path:
    """Save a random-weight model with Qwen2.5-3B-Instruct's architecture, in bf16."""
    from transformers import AutoModelForCausalLM, Qwen2Config

    config = Qwen2Config(
        vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
        num_attention_heads=16, num_key_value_heads=2, max_position_embeddings=32768,
        rope_theta=1_000_000.0, rms_norm_eps=1e-6, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
    )
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    params = sum(p.numel() for p in model.parameters())
    del model
    torch.cuda.empty_cache()
    return directory, params


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf-dir", help="folder with the bundled GGUF (skip SmolLM2 when absent)")
    ap.add_argument("--tokenizer", help="tokenizer dir for the Qwen-shaped model (default: SmolLM2's)")
    ap.add_argument("--out", required=True)
    ap.add_argument("--new-tokens", type=int, default=128)
    args = ap.parse_args()
    results: dict = {"gpu": torch.cuda.get_device_name(0), "torch": torch.__version__}
    import transformers

    results["transformers"] = transformers.__version__

    tokenizer = None
    if args.gguf_dir:
        smol = TransformersBackend(args.gguf_dir, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf",
                                   device="cuda", dtype="bfloat16")
        results["smollm2_load_s"] = smol.load_seconds
        results["smollm2"] = measure_backend(smol, args.new_tokens)
        results["smollm2_bare_generate"] = measure_bare_generate(smol, args.new_tokens)
        results["smollm2_sample_answer"] = smol.complete(
            [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}],
            GenerationParams(max_new_tokens=32, temperature=0.0),
        ).text
        print(json.dumps(results, indent=1), flush=True)
        tokenizer = smol.tokenizer
        del smol
        torch.cuda.empty_cache()
    if args.tokenizer:
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(args.tokenizer)
    directory, n_params = qwen25_3b_shaped(Path("/tmp/qwen25-3b-shaped"), tokenizer)
    qwen = TransformersBackend(directory, device="cuda", dtype="bfloat16")
    results["qwen25_3b_shaped_params"] = n_params
    results["qwen25_3b_shaped_load_s"] = qwen.load_seconds
    results["qwen25_3b_shaped"] = measure_backend(qwen, args.new_tokens)
    results["qwen25_3b_shaped_bare_generate"] = measure_bare_generate(qwen, args.new_tokens)
    results["gpu_memory_peak_gib"] = torch.cuda.max_memory_allocated() / 2**30
    Path(args.out).write_text(json.dumps(results, indent=1))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
