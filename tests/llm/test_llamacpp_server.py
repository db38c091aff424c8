"""OpenAIBackend against a real third-party server: llama.cpp's (llama-cpp-python[server]).

tests/llm/test_openai_backend.py runs the backend against docchat's own little server,
which forgives what real servers do differently. Here the same behaviours are checked
against llama.cpp serving the bundled SmolLM2 GGUF on 127.0.0.1: streaming, stop
strings, ``max_tokens``, context-length detection, usage, cancellation, and a full
docchat turn over it. A server answering 500 is a clear error after retries.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Iterator

import httpx
import pytest

from llm.model_paths import bundled_chat_model
from llm.openai_backend import CONNECT_ATTEMPTS, LLMServerError, OpenAIBackend
from llm.types import GenerationParams, Message
from tests.llm.openai_server import serve

pytestmark = pytest.mark.slow

N_CTX = 2048
QUESTION: list[Message] = [{"role": "user", "content": "What is the capital of France? Answer in one sentence."}]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def llamacpp_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama.cpp's OpenAI-compatible server on the bundled GGUF, as a user would start it."""
    folder, gguf = bundled_chat_model()
    port = _free_port()
    log_path = tmp_path_factory.mktemp("llamacpp") / "server.log"
    cmd = [sys.executable, "-m", "llama_cpp.server", "--model", str(Path(folder) / gguf),
           "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(N_CTX), "--n_threads", "2"]
    with open(log_path, "w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama.cpp server exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{url}/v1/models", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama.cpp server not up in 180 s:\n{log_path.read_text()[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def remote(llamacpp_url: str) -> OpenAIBackend:
    folder, gguf = bundled_chat_model()
    return OpenAIBackend(llamacpp_url, tokenizer_source=str(Path(folder) / gguf))


@pytest.fixture
def greedy() -> GenerationParams:
    return GenerationParams(max_new_tokens=32, temperature=0.0, repetition_penalty=1.0)


def test_a_prompt_over_the_window_is_refused_and_the_window_learned(llamacpp_url, greedy):
    """llama.cpp's server does not report its window; its refusal of a longer prompt names it."""
    from llm.types import PromptTooLong

    backend = OpenAIBackend(llamacpp_url)
    assert backend.model.endswith(".gguf")
    assert backend.context_window == 4096  # assumed, and said in the log
    long_prompt = [{"role": "user", "content": "lighthouse " * 3000}]
    with pytest.raises(PromptTooLong):
        backend.complete(long_prompt, greedy)
    assert backend.context_window == N_CTX


def test_stream_yields_pieces_and_server_usage(remote, greedy):
    stream = remote.stream(QUESTION, greedy)
    pieces = list(stream)

    assert len(pieces) > 1
    assert "Paris" in "".join(pieces)
    assert stream.usage.prompt_tokens > 5
    assert 0 < stream.usage.completion_tokens <= greedy.max_new_tokens
    assert stream.usage.finish_reason in ("stop", "length")


def test_streamed_and_plain_answers_agree_when_greedy(remote, greedy):
    streamed = "".join(remote.stream(QUESTION, greedy))
    assert remote.complete(QUESTION, greedy).text == streamed


def test_max_tokens_bounds_the_answer(remote):
    params = GenerationParams(max_new_tokens=4, temperature=0.0, repetition_penalty=1.0)
    story = [{"role": "user", "content": "Write a long story about a dragon who bakes bread."}]
    completion = remote.complete(story, params)

    assert completion.usage.completion_tokens == 4
    assert completion.usage.finish_reason == "length"
    assert remote.count_text_tokens(completion.text) <= 5


def test_stop_string_cuts_the_answer(remote, greedy):
    full = remote.complete(QUESTION, greedy).text
    assert "Paris" in full
    cut = remote.complete(QUESTION, GenerationParams(max_new_tokens=32, temperature=0.0,
                                                     repetition_penalty=1.0, stop=("Paris",)))
    streamed = "".join(remote.stream(QUESTION, GenerationParams(max_new_tokens=32, temperature=0.0,
                                                                repetition_penalty=1.0, stop=("Paris",))))

    assert cut.text == full[: full.index("Paris")]
    assert streamed == cut.text


def test_cancel_stops_the_stream_and_the_server_takes_the_next_request(remote, greedy):
    cancel = threading.Event()
    story = [{"role": "user", "content": "Write a long story about a dragon who learns to bake bread."}]
    stream = remote.stream(story, GenerationParams(max_new_tokens=200, temperature=0.0), cancel)
    received = []
    for piece in stream:
        received.append(piece)
        if len(received) == 3:
            cancel.set()

    assert len(received) == 3
    assert stream.usage.finish_reason == "cancelled"
    assert "Paris" in remote.complete(QUESTION, greedy).text


def test_a_docchat_turn_runs_over_the_llamacpp_server(remote, embedder, tmp_path):
    from rag.types import TurnRequest
    from services import build_services
    from settings import Settings
    from tests.pdfs import make_pdf

    services = build_services(Settings(data_dir=tmp_path / "data", max_new_tokens=24), llm=remote, embedder=embedder)
    try:
        pdf = make_pdf(tmp_path / "harbour.pdf", ["The harbour master's office opens at seven in the morning."])
        assert services.knowledge_base.add_file(pdf).status == "ready"
        result = services.pipeline.run_turn(TurnRequest(user_id="u", text="When does the harbour office open?"))
    finally:
        services.close()

    assert result.text.strip()
    assert result.sources and result.sources[0].filename == "harbour.pdf"
    assert result.usage.completion_tokens > 0


def _failing_app(hits: list[str]):
    from fastapi import FastAPI
    from fastapi.responses import JSONResponse

    app = FastAPI()

    @app.get("/v1/models")
    def models() -> dict:
        return {"object": "list", "data": [{"id": "broken", "object": "model", "created": 0, "owned_by": "t"}]}

    @app.post("/v1/chat/completions")
    def chat() -> JSONResponse:
        hits.append("chat")
        return JSONResponse({"error": {"message": "model crashed"}}, status_code=500)

    return app


def test_a_server_answering_500_is_retried_then_a_clear_error(greedy):
    hits: list[str] = []
    with serve(_failing_app(hits)) as url:
        backend = OpenAIBackend(url)
        with pytest.raises(LLMServerError, match="HTTP 500"):
            backend.complete(QUESTION, greedy)
    assert len(hits) == CONNECT_ATTEMPTS
