"""--api-key protects every API route (not /healthz); oversized uploads are refused with 413.

In-process (``start_app`` of tests/api/conftest.py): the app built with an API key and a
1 MiB upload limit, the same settings ``--api-key`` and ``DOCCHAT_MAX_UPLOAD_MB`` give.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.api.conftest import LOOPBACK, PROTECTED_ROUTES, assert_error_shape

KEY = "test-secret-key"


@pytest.fixture(scope="module")
def locked(start_app) -> TestClient:
    """An app with an API key and a 1 MiB upload limit."""
    return start_app(api_key=KEY, max_upload_mb=1)


@pytest.fixture(scope="module")
def anonymous(locked) -> httpx.Client:
    return locked


@pytest.fixture(scope="module")
def authorised(locked) -> httpx.Client:
    """A second client of the same app that sends the key with every request."""
    return TestClient(locked.app, base_url=LOOPBACK, headers={"Authorization": f"Bearer {KEY}"})


ROUTES = PROTECTED_ROUTES


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_every_api_route_needs_the_key(anonymous: httpx.Client, method: str, path: str, body) -> None:
    error = assert_error_shape(anonymous.request(method, path, json=body), 401)
    assert error["type"] == "authentication_error"


def test_a_wrong_key_is_refused(anonymous: httpx.Client) -> None:
    assert_error_shape(anonymous.get("/v1/models", headers={"Authorization": "Bearer nope"}), 401)


def test_the_right_key_is_accepted(authorised: httpx.Client) -> None:
    assert authorised.get("/v1/models").status_code == 200
    assert authorised.post("/api/chat", json={"query": "hi", "max_tokens": 4}).status_code == 200


def test_healthz_needs_no_key(anonymous: httpx.Client) -> None:
    assert anonymous.get("/healthz").status_code == 200


def test_openai_client_sends_the_key(locked) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{LOOPBACK}/v1", api_key=KEY, max_retries=0, http_client=locked)
    assert client.models.list().data
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{LOOPBACK}/v1", api_key="wrong", max_retries=0, http_client=locked).models.list()


def test_oversized_upload_is_413(authorised: httpx.Client) -> None:
    big = b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 10)
    response = authorised.post("/api/documents", files=[("files", ("big.pdf", big, "application/pdf"))])
    error = assert_error_shape(response, 413)
    assert "MiB" in error["message"]
