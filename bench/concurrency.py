"""Measurement 8: N = 1, 4, 8 simultaneous streamed chats through the real HTTP API.

Starts ``python app.py --port <free> --data-dir <tmp>`` as a subprocess (the real server,
bundled models), uploads the smallest FinanceBench filing, then fires N streamed
``POST /api/chat`` requests at once from N users. Per level: aggregate tokens/s (tokens
counted with the same tokenizer over the streamed text), p95 time to first token and
the number of failed requests.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from bench.harness import Bench
from bench.metrics import percentile

log = logging.getLogger(__name__)

LEVELS = (1, 4, 8)
MAX_TOKENS = 32
STARTUP_TIMEOUT_S = 600
TARGET_SCALING = 3.0
TARGET_TTFT_RATIO = 3.0  # TTFT p95 at the top level <= 3 x N = 1 (issue 17)
REPO_ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The real docchat server in a child process; stopped (by its own pid) on exit."""

    def __init__(self, data_dir: Path, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = open(log_path, "wb")
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "ANONYMIZED_TELEMETRY": "False", "GRADIO_ANALYTICS_ENABLED": "False"}
        self.proc = subprocess.Popen(
            [sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(self.port),
             "--data-dir", str(data_dir)],
            cwd=REPO_ROOT, env=env, stdout=self._log, stderr=subprocess.STDOUT,
        )

    def wait_ready(self) -> float:
        import httpx

        start = time.perf_counter()
        while time.perf_counter() - start < STARTUP_TIMEOUT_S:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self._log.name}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return time.perf_counter() - start
            except httpx.HTTPError:
                pass
            time.sleep(1)
        raise TimeoutError(f"server not ready after {STARTUP_TIMEOUT_S}s")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


def stream_chat(url: str, user: str, query: str) -> dict:
    """One streamed chat; returns the text, time to first token and any error."""
    import httpx

    start = time.perf_counter()
    first = None
    text, error = [], None
    body = {"query": query, "stream": True, "max_tokens": MAX_TOKENS, "temperature": 0.0}
    try:
        with httpx.stream("POST", url + "/api/chat", json=body, headers={"X-User-Id": user},
                          timeout=httpx.Timeout(600.0, connect=10.0)) as response:
            if response.status_code != 200:
                response.read()
                return {"error": f"HTTP {response.status_code}: {response.text[:200]}",
                        "ttft_s": None, "text": "", "seconds": time.perf_counter() - start}
            for line in response.iter_lines():
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                event = json.loads(data)
                if "error" in event:
                    error = str(event["error"])
                delta = event.get("text") or ""
                if delta and first is None:
                    first = time.perf_counter()
                text.append(delta)
    except (httpx.HTTPError, ValueError) as exc:
        error = f"{type(exc).__name__}: {exc}"
    end = time.perf_counter()
    return {"text": "".join(text), "ttft_s": (first - start) if first else None, "error": error,
            "seconds": end - start}


def _level(url: str, n: int, questions: list[str], count_tokens) -> dict:
    results: list[dict] = [{} for _ in range(n)]

    def worker(i: int) -> None:
        results[i] = stream_chat(url, f"bench-n{n}-user-{i}", questions[i % len(questions)])

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    tokens = sum(count_tokens(r["text"]) for r in results if r.get("text"))
    ttfts = [r["ttft_s"] for r in results if r.get("ttft_s") is not None]
    failed = [r["error"] for r in results if r.get("error") or r.get("ttft_s") is None]
    return {"n": n, "wall_s": wall, "tokens": tokens, "aggregate_tokens_per_s": tokens / wall if wall else 0.0,
            "ttft_p95_ms": percentile(ttfts, 95) * 1000, "ttft_p50_ms": percentile(ttfts, 50) * 1000,
            "failed": len(failed), "errors": failed[:3]}


def run(bench: Bench) -> dict:
    import httpx

    corpus = bench.finance_corpus()
    smallest = min(corpus.pdfs, key=lambda p: p.stat().st_size)
    questions = [q.question for q in corpus.questions if q.doc_name == smallest.stem] or \
                [q.question for q in corpus.questions]
    server = Server(bench.work_dir / "server-data", bench.work_dir / "server.log")
    try:
        startup_s = server.wait_ready()
        with smallest.open("rb") as f:
            upload = httpx.post(server.url + "/api/documents", timeout=600,
                                files=[("files", (smallest.name, f, "application/pdf"))])
        upload.raise_for_status()
        stream_chat(server.url, "bench-warmup", questions[0])  # first-request costs
        levels = {}
        for n in (LEVELS[:2] if bench.options.quick else LEVELS):
            levels[str(n)] = _level(server.url, n, questions, bench.llm.count_text_tokens)
            log.info("concurrency N=%d: %s", n, levels[str(n)])
    finally:
        server.stop()
    top = levels[str(max(int(k) for k in levels))]
    scaling = top["aggregate_tokens_per_s"] / levels["1"]["aggregate_tokens_per_s"] \
        if levels["1"]["aggregate_tokens_per_s"] else 0.0
    ttft_ratio = top["ttft_p95_ms"] / levels["1"]["ttft_p95_ms"] if levels["1"]["ttft_p95_ms"] else 0.0
    return {
        "startup_s": startup_s,
        "document": smallest.name,
        "max_tokens": MAX_TOKENS,
        "levels": levels,
        "scaling_top_vs_1": scaling,
        "ttft_p95_ratio_top_vs_1": ttft_ratio,
        "target": f"aggregate tokens/s at N=8 >= {TARGET_SCALING} x N=1; TTFT p95 <= {TARGET_TTFT_RATIO} x N=1; "
                  "no failures",
        "met": scaling >= TARGET_SCALING and ttft_ratio <= TARGET_TTFT_RATIO
        and all(v["failed"] == 0 for v in levels.values()),
    }
