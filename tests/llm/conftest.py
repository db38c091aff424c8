"""Fixtures for the chat-model tests (the bundled backend itself is in tests/conftest.py)."""

from __future__ import annotations

from typing import Iterator

import pytest

from llm.types import GenerationParams
from tests.llm.openai_server import make_app, serve


@pytest.fixture
def greedy() -> GenerationParams:
    """Deterministic, short answers."""
    return GenerationParams(max_new_tokens=24, temperature=0.0, repetition_penalty=1.0)


@pytest.fixture(scope="session")
def openai_server(transformers_smollm2) -> Iterator[tuple[str, object]]:
    """(base URL, app) of a real OpenAI-compatible HTTP server on 127.0.0.1 wrapping the bundled model."""
    app = make_app(transformers_smollm2)
    with serve(app) as url:
        yield url, app
