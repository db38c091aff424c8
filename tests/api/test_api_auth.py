"""--api-key protects every API route (not /healthz); oversized uploads are refused with 413."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import PROTECTED_ROUTES, assert_error_shape

KEY = "test-secret-key"


@pytest.fixture(scope="module")
def locked(start_server):
    """A second server with an API key and a 1 MiB upload limit."""
    return start_server("--api-key", KEY, env={"DOCCHAT_MAX_UPLOAD_MB": "1"})


@pytest.fixture(scope="module")
def anonymous(locked) -> httpx.Client:
    with httpx.Client(base_url=locked.base_url, timeout=300) as client:
        yield client


@pytest.fixture(scope="module")
def authorised(locked) -> httpx.Client:
    with httpx.Client(base_url=locked.base_url, timeout=300, headers={"Authorization": f"Bearer {KEY}"}) as client:
        yield client


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

    client = openai.OpenAI(base_url=f"{locked.base_url}/v1", api_key=KEY, max_retries=0)
    assert client.models.list().data
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{locked.base_url}/v1", api_key="wrong", max_retries=0).models.list()


def test_oversized_upload_is_413(authorised: httpx.Client) -> None:
    big = b"%PDF-1.4\n" + b"0" * (1024 * 1024 + 10)
    response = authorised.post("/api/documents", files=[("files", ("big.pdf", big, "application/pdf"))])
    error = assert_error_shape(response, 413)
    assert "MiB" in error["message"]
