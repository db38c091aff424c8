"""Session-wide fixtures for the chat-model tests: the bundled SmolLM2 is loaded once."""

from __future__ import annotations

from typing import Iterator

import pytest

from llm.model_paths import bundled_chat_model
from llm.transformers_backend import TransformersBackend
from llm.types import ChatBackend, GenerationParams
from tests.llm.openai_server import make_app, serve


@pytest.fixture(scope="session")
def bundled_backend() -> ChatBackend:
    """The bundled SmolLM2-135M-Instruct GGUF on CPU, shared by every test of the session."""
    folder, gguf = bundled_chat_model()
    return TransformersBackend(folder, gguf_file=gguf, device="cpu")


@pytest.fixture
def greedy() -> GenerationParams:
    """Deterministic, short answers."""
    return GenerationParams(max_new_tokens=24, temperature=0.0, repetition_penalty=1.0)


@pytest.fixture(scope="session")
def openai_server(bundled_backend) -> Iterator[tuple[str, object]]:
    """(base URL, app) of a real OpenAI-compatible HTTP server on 127.0.0.1 wrapping the bundled model."""
    app = make_app(bundled_backend)
    with serve(app) as url:
        yield url, app
