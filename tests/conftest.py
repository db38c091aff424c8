"""Shared fixtures: offline env, the real docchat server on 127.0.0.1.

The server runs as a real subprocess (`python app.py`), exactly as a user starts it,
with its own data dir under pytest's tmp dir. It loads the bundled models once per
test session; tests that need another configuration (an API key, private docs) start
their own through ``start_server``. Tests of request mapping, validation and access
rules build the same app in-process instead (tests/api/conftest.py: ``start_app``).

The models are session fixtures (``bundled_backend``, ``embedder``), and the two
builders over them are defined here once: ``make_services`` (everything the app
holds) and ``make_kb`` (a knowledge base alone).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]

OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "ANONYMIZED_TELEMETRY": "False",
    "GRADIO_ANALYTICS_ENABLED": "False",
    "TOKENIZERS_PARALLELISM": "false",
    # Test servers answer with the 135M model: fast, and what they check is the product around
    # the answer. The real default (Qwen2.5 through llama.cpp) has its own tests
    # (tests/llm/test_llamacpp_backend.py, tests/rag/test_default_model_turn.py).
    "DOCCHAT_MODEL": "smollm2",
    # One llama.cpp thread: the 135M model needs no more, and a thread pool on both cores spins
    # at its barriers whenever Chromium or another server takes a core (tokens slow down 10x).
    "DOCCHAT_LLM_THREADS": "1",
}
os.environ.update(OFFLINE_ENV)


def _raise_open_file_limit() -> None:
    """Hundreds of in-process Chroma clients, event loops and test servers' sockets add up
    past the usual soft limit of 1,024 descriptors in one pytest process (seen in a full
    run); the hard limit is the machine's to give."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


_raise_open_file_limit()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class ServerHandle:
    """A running `python app.py` on 127.0.0.1."""

    process: subprocess.Popen
    port: int
    data_dir: Path
    log_path: Path
    api_key: str | None = None
    env: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def headers(self, user: str | None = None) -> dict[str, str]:
        h = {}
        if self.api_key:
            h["Authorization"] = f"Bearer {self.api_key}"
        if user:
            h["X-User-Id"] = user
        return h

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, kill: bool = False) -> None:
        if self.process.poll() is None:
            self.process.kill() if kill else self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def launch_server(data_dir: Path, *, extra_args: list[str] | None = None, env: dict[str, str] | None = None,
                  timeout: float = 240.0) -> ServerHandle:
    """Start `python app.py` on a free port and wait until /healthz answers 200."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir.parent / f"server-{port}.log"
    full_env = {**os.environ, **OFFLINE_ENV, "PYTHONUNBUFFERED": "1", **(env or {})}
    cmd = [sys.executable, str(REPO / "app.py"), "--port", str(port), "--data-dir", str(data_dir),
           "--host", "127.0.0.1", *(extra_args or [])]
    log_file = open(log_path, "w")
    proc = subprocess.Popen(cmd, cwd=REPO, env=full_env, stdout=log_file, stderr=subprocess.STDOUT)
    api_key = None
    if extra_args and "--api-key" in extra_args:
        api_key = extra_args[extra_args.index("--api-key") + 1]
    handle = ServerHandle(proc, port, data_dir, log_path, api_key, env or {})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"docchat server exited with {proc.returncode}:\n{handle.log()[-4000:]}")
        try:
            if httpx.get(f"{handle.base_url}/healthz", timeout=2).status_code == 200:
                return handle
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    handle.stop(kill=True)
    raise RuntimeError(f"docchat server did not become healthy in {timeout}s:\n{handle.log()[-4000:]}")


@pytest.fixture(scope="session")
def start_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., ServerHandle]]:
    """Factory: start_server("--api-key", "k") → a fresh server with its own data dir."""
    started: list[ServerHandle] = []

    def _start(*extra_args: str, env: dict[str, str] | None = None, data_dir: Path | None = None) -> ServerHandle:
        handle = launch_server(data_dir or tmp_path_factory.mktemp("server") / "data",
                               extra_args=list(extra_args), env=env)
        started.append(handle)
        return handle

    yield _start
    for handle in started:
        handle.stop()


@pytest.fixture(scope="session")
def server(start_server: Callable[..., ServerHandle]) -> ServerHandle:
    """The shared docchat server for API and browser tests (default settings)."""
    return start_server()


@pytest.fixture(scope="session")
def held_model(bundled_backend) -> Iterator[tuple[str, object]]:
    """(base URL, gate): the bundled model served over HTTP behind a gate a test can hold
    (tests/llm/openai_server.py ``Gate``). Stop, disconnect and time-limit tests need an
    answer that is still being written when they act, whatever the CPU's speed."""
    from tests.llm.openai_server import gated_model

    with gated_model(bundled_backend) as served:
        yield served


@pytest.fixture(scope="session")
def held_server(held_model, start_server: Callable[..., ServerHandle]) -> ServerHandle:
    """A real docchat server whose answers the bundled model writes through ``held_model``."""
    return start_server(env={"DOCCHAT_LLM_BASE_URL": held_model[0]})


@pytest.fixture(scope="session")
def bundled_backend():
    """The bundled SmolLM2-135M-Instruct GGUF on llama.cpp (the CPU engine), loaded once per session."""
    from llm.llamacpp_backend import LlamaCppBackend
    from llm.model_paths import bundled_chat_model

    folder, gguf = bundled_chat_model()
    return LlamaCppBackend(folder / gguf, name="SmolLM2-135M-Instruct (GGUF)", threads=1)


@pytest.fixture(scope="session")
def transformers_smollm2():
    """The same GGUF on the transformers engine (GPU path, LoRA adapters, fine-tuning)."""
    from llm.model_paths import bundled_chat_model
    from llm.transformers_backend import TransformersBackend

    folder, gguf = bundled_chat_model()
    return TransformersBackend(folder, gguf_file=gguf, device="cpu")


@pytest.fixture(scope="session")
def embedder():
    """The bundled all-MiniLM-L6-v2, loaded once per test session."""
    from rag.embeddings import make_embedder
    from settings import Settings

    return make_embedder(Settings(embedding_model="auto", device="cpu"))


@pytest.fixture
def make_services(tmp_path: Path, request: pytest.FixtureRequest, embedder) -> Iterator[Callable[..., object]]:
    """Build real services (SQLite, Chroma, BM25 on a tmp data dir) around the shared embedder
    and the bundled chat model, or the chat backend given as ``llm`` (e.g. tests/fakes.py's)."""
    from services import build_services
    from settings import Settings

    built = []

    def _build(llm=None, **overrides):
        overrides.setdefault("data_dir", tmp_path / "data")
        llm = llm or request.getfixturevalue("bundled_backend")  # loaded only when a test needs it
        services = build_services(Settings(**overrides), llm=llm, embedder=embedder)
        built.append(services)
        return services

    yield _build
    for services in built:
        services.close()


@pytest.fixture
def make_kb(tmp_path: Path, embedder) -> Iterator[Callable[..., object]]:
    """Build a KnowledgeBase on ``data_dir`` (default: this test's tmp dir); call again to 'restart'.

    Real SQLite, real Chroma and FTS5 keywords; ``embedder_`` swaps the shared embedder."""
    from rag.knowledge_base import KnowledgeBase
    from settings import Settings
    from storage.db import Database
    from storage.documents import DocumentRegistry

    databases: list[Database] = []

    def build(data_dir: Path | None = None, embedder_=None, **overrides) -> KnowledgeBase:
        settings = Settings(data_dir=data_dir or tmp_path / "data", **overrides)
        db = Database(settings.db_path)
        databases.append(db)
        return KnowledgeBase(settings, DocumentRegistry(db), embedder_ or embedder)

    yield build
    for db in databases:
        db.close()
