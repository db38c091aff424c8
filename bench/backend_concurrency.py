"""Before/after of issue 17 on the local backend alone: concurrent answers and long-conversation prefill.

``python -m bench.backend_concurrency [--n 1,8] [--prompt-tokens 900] [--out bench/out]``

The full measurement (``bench/concurrency.py``) goes through the HTTP server with
retrieval; this one isolates the model so that, on a loaded shared CPU, "before" and
"after" can run back to back in one process on the same prompts:

- before: the backend as it was (one ``generate`` at a time), read from git (``--before-ref``);
- after: this checkout's batched backend.

Per N: aggregate tokens/s over N simultaneous greedy streams and TTFT p50/p95. Then the
prefix cache: TTFT of a conversation turn whose history is cached vs not.
Results go to ``<out>/backend_concurrency.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def old_backend_class(ref: str, work: Path):
    """``TransformersBackend`` as it was at ``ref`` (imported from a temp copy of the file)."""
    source = subprocess.run(["git", "show", f"{ref}:llm/transformers_backend.py"], cwd=REPO_ROOT,
                            capture_output=True, text=True, check=True).stdout
    path = work / "before_transformers_backend.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("before_transformers_backend", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.TransformersBackend


def prompts(n: int, prompt_tokens: int, count) -> list[list[dict]]:
    """n different questions over a shared-length filler context (~prompt_tokens each)."""
    filler = ("Revenue grew in the fourth quarter as stores opened and online sales rose. "
              "Costs were flat; margins improved by two points. ")
    context = filler
    while count([{"role": "user", "content": context}]) < prompt_tokens:
        context += filler
    topics = ["revenue", "margins", "stores", "online sales", "costs", "the outlook", "risks", "dividends"]
    return [[{"role": "system", "content": "You are a helpful assistant."},
             {"role": "user", "content": f"{context}\n\nQuestion {i}: what does the text say about "
                                         f"{topics[i % len(topics)]}?"}] for i in range(n)]


def level(backend, messages: list[list[dict]], params) -> dict:
    n = len(messages)
    out: list[dict] = [{} for _ in range(n)]

    def worker(i: int) -> None:
        start = time.perf_counter()
        stream = backend.stream(messages[i], params)
        first = None
        for _ in stream:
            if first is None:
                first = time.perf_counter() - start
        out[i] = {"ttft_s": first, "tokens": stream.usage.completion_tokens}

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    ttfts = sorted(r["ttft_s"] for r in out if r.get("ttft_s") is not None)
    tokens = sum(r.get("tokens", 0) for r in out)
    p95 = ttfts[min(len(ttfts) - 1, int(round(0.95 * (len(ttfts) - 1))))] if ttfts else None
    return {"n": n, "wall_s": wall, "tokens": tokens, "tokens_per_s": tokens / wall,
            "ttft_p50_s": ttfts[len(ttfts) // 2] if ttfts else None, "ttft_p95_s": p95}


def prefix_turns(backend, params, turns: int) -> list[dict]:
    """TTFT per turn of one conversation whose history grows, with and without a cache key."""
    from dataclasses import replace

    rows = []
    history: list[dict] = []
    answer_filler = "The report says revenue grew and margins improved, mainly from new stores. " * 3
    for turn in range(1, turns + 1):
        question = {"role": "user", "content": f"Context: quarterly filing page {turn}. Question {turn}: "
                                               "what changed this quarter?"}
        messages = [{"role": "system", "content": "You are a helpful assistant."}, *history, question]
        row = {"turn": turn, "prompt_tokens": backend.count_tokens(messages)}
        for label, key in (("no_cache", None), ("cached", "bench\x1fconv")):
            start = time.perf_counter()
            stream = backend.stream(messages, replace(params, cache_key=key))
            next(stream, None)
            row[f"ttft_{label}_s"] = time.perf_counter() - start
            list(stream)
            row[f"reused_{label}"] = stream.usage.cached_prompt_tokens
        rows.append(row)
        history += [{"role": "user", "content": question["content"]},
                    {"role": "assistant", "content": answer_filler}]
    return rows


TARGET_SCALING = 3.0  # issue 17: aggregate tokens/s at N = 8 >= 3 x N = 1
BEFORE_REF = "c3c7a82"  # the backend before issue 17: one generate at a time


def measure(levels: list[int], prompt_tokens: int, max_new_tokens: int, turns: int, before_ref: str) -> dict:
    """Before and after at each level, back to back on the same prompts; then the prefix-cache turns."""
    import os
    import tempfile

    import torch

    from llm.model_paths import bundled_chat_model
    from llm.transformers_backend import TransformersBackend
    from llm.types import GenerationParams

    folder, gguf = bundled_chat_model()
    params = GenerationParams(max_new_tokens=max_new_tokens, temperature=0.0, repetition_penalty=1.1)
    backends = {"after": TransformersBackend(folder, gguf_file=gguf)}
    if before_ref:
        backends["before"] = old_backend_class(before_ref, Path(tempfile.mkdtemp()))(folder, gguf_file=gguf)
    messages = prompts(max(levels), prompt_tokens, backends["after"].count_tokens)
    for backend in backends.values():
        level(backend, messages[:1], params)  # warm-up
    results: dict = {"uptime": os.getloadavg(), "torch_threads": torch.get_num_threads(),
                     "prompt_tokens": backends["after"].count_tokens(messages[0]),
                     "max_new_tokens": max_new_tokens, "before_ref": before_ref, "levels": {}}
    for n in levels:  # before and after back to back at each level
        for name, backend in backends.items():
            r = level(backend, messages[:n], params)
            results["levels"].setdefault(name, {})[str(n)] = r
            print(name, r, flush=True)
    for name, by_n in results["levels"].items():
        lo, hi = by_n[str(min(levels))], by_n[str(max(levels))]
        results[f"{name}_scaling"] = hi["tokens_per_s"] / lo["tokens_per_s"]
        results[f"{name}_ttft_p95_ratio"] = hi["ttft_p95_s"] / lo["ttft_p95_s"]
    if turns:
        results["prefix_turns"] = prefix_turns(backends["after"], params, turns)
        for row in results["prefix_turns"]:
            print(row, flush=True)
    results["load_after"] = os.getloadavg()
    results["target"] = f"aggregate tokens/s at N={max(levels)} >= {TARGET_SCALING} x N={min(levels)}"
    results["met"] = results["after_scaling"] >= TARGET_SCALING
    return results


def run(bench) -> dict:
    """``python -m bench --only backend_concurrency``: 1 and 8 streams of typical answer length (128 tokens)."""
    if bench.options.quick:
        return measure([1, 2], 300, 16, 3, BEFORE_REF)
    return measure([1, 8], 900, 128, 12, BEFORE_REF)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.backend_concurrency", description=__doc__.splitlines()[0])
    parser.add_argument("--n", default="1,8", help="concurrency levels")
    parser.add_argument("--prompt-tokens", type=int, default=900)
    parser.add_argument("--max-new-tokens", type=int, default=32)
    parser.add_argument("--turns", type=int, default=12, help="turns of the prefix-cache run (0: skip)")
    parser.add_argument("--before-ref", default=BEFORE_REF, help="git ref of the backend before issue 17 ('' skips)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "bench" / "out")
    args = parser.parse_args(argv)
    results = measure([int(x) for x in args.n.split(",")], args.prompt_tokens, args.max_new_tokens, args.turns,
                      args.before_ref)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "backend_concurrency.json").write_text(json.dumps(results, indent=1))
    print(json.dumps({k: v for k, v in results.items() if k not in ("levels", "prefix_turns")}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
