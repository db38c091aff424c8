"""Find where streaming loses speed against a bare model.generate on a GPU.

    python scripts/gpu_overhead.py --tokenizer DIR
Builds a random-weight model with Qwen2.5-3B's architecture (bf16) and times variants.
"""

from __future__ import annotations

import argparse
import threading
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, Qwen2Config, StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

from llm.transformers_backend import TransformersBackend
from llm.types import GenerationParams

N = 128


class FlagStop(StoppingCriteria):
    def __init__(self, event):
        self.event = event

    def __call__(self, input_ids, scores, **kw):
        return torch.full((input_ids.shape[0],), self.event.is_set(), dtype=torch.bool, device=input_ids.device)


def timed(fn, runs=3):
    fn()
    out = []
    for _ in range(runs):
        torch.cuda.synchronize()
        t = time.perf_counter()
        fn()
        torch.cuda.synchronize()
        out.append(N / (time.perf_counter() - t))
    return sorted(out)[len(out) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tokenizer", required=True)
    args = ap.parse_args()
    tok = AutoTokenizer.from_pretrained(args.tokenizer)
    config = Qwen2Config(vocab_size=151936, hidden_size=2048, intermediate_size=11008, num_hidden_layers=36,
                         num_attention_heads=16, num_key_value_heads=2, max_position_embeddings=32768,
                         tie_word_embeddings=True, eos_token_id=tok.eos_token_id, bos_token_id=tok.bos_token_id)
    with torch.device("cuda"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.eval()
    model.save_pretrained("/tmp/q3b")
    tok.save_pretrained("/tmp/q3b")
    ids = torch.tensor([list(range(100, 340))], device="cuda")
    common = dict(max_new_tokens=N, min_new_tokens=N, do_sample=False, attention_mask=torch.ones_like(ids),
                  pad_token_id=0)

    def bare():
        with torch.inference_mode():
            model.generate(ids, **common)

    def with_stop():
        with torch.inference_mode():
            model.generate(ids, stopping_criteria=StoppingCriteriaList([FlagStop(threading.Event())]), **common)

    def with_streamer():
        streamer = TextIteratorStreamer(tok, skip_prompt=True, skip_special_tokens=True)

        def run():
            with torch.inference_mode():
                model.generate(ids, streamer=streamer, **common)

        th = threading.Thread(target=run)
        th.start()
        for _ in streamer:
            pass
        th.join()

    def in_thread_no_streamer():
        th = threading.Thread(target=bare)
        th.start()
        th.join()

    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(max_workers=1)

    def pooled():
        pool.submit(bare).result()

    def thread_one_cpu_thread():
        def run():
            torch.set_num_threads(1)
            bare()

        th = threading.Thread(target=run)
        th.start()
        th.join()

    print("pooled_thread", timed(pooled), flush=True)
    print("thread_set_num_threads_1", timed(thread_one_cpu_thread), flush=True)
    print("bare", timed(bare), flush=True)
    print("stop_criteria", timed(with_stop), flush=True)
    print("thread_only", timed(in_thread_no_streamer), flush=True)
    print("streamer_thread", timed(with_streamer), flush=True)
    del model
    torch.cuda.empty_cache()
    backend = TransformersBackend("/tmp/q3b", device="cuda", dtype="bfloat16")
    msgs = [{"role": "user", "content": "hello " * 200}]
    p = GenerationParams(max_new_tokens=N, temperature=0.0, repetition_penalty=1.0)

    def ours():
        s = backend.stream(msgs, p)
        for _ in s:
            pass
        return s.usage.completion_tokens

    ours()
    t = time.perf_counter(); n = ours(); dt = time.perf_counter() - t
    print("ours", n / dt, "tokens", n, flush=True)
    print("switchinterval", __import__("sys").getswitchinterval())


if __name__ == "__main__":
    main()
