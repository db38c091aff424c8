"""Each of our errors becomes the one JSON error shape with the status it carries (no server needed)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from access import AccessError
from api.errors import ApiError, install_error_handlers
from llm.openai_backend import LLMServerError
from llm.types import BackendBusy, PromptTooLong
from rag.types import DocchatError, EmptyQuestion
from storage.db import DatabaseClosed
from storage.history import ConversationNotFound


def client_raising(exc: Exception) -> TestClient:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    def boom() -> None:
        raise exc

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("exc", "status", "type"),
    [
        (DocchatError("a.pdf: not a PDF file"), 400, "invalid_request_error"),
        (EmptyQuestion("The question is empty."), 400, "invalid_request_error"),
        (PromptTooLong("The prompt has 9000 tokens."), 400, "invalid_request_error"),
        (ConversationNotFound("no conversation 'c1'"), 404, "not_found_error"),
        (BackendBusy("3 requests are already waiting for the model."), 503, "server_busy"),
        (ApiError(429, "Too many chat requests.", headers={"Retry-After": "7"}), 429, "rate_limit_error"),
        (ApiError(400, "Odd.", type="custom_type"), 400, "custom_type"),
    ],
)
def test_our_errors_answer_with_their_own_status_and_words(exc: Exception, status: int, type: str) -> None:
    response = client_raising(exc).get("/boom")
    assert response.status_code == status
    assert response.json() == {"error": {"message": str(exc), "type": type}}


def test_busy_asks_to_retry_and_keeps_a_route_s_own_retry_after() -> None:
    assert client_raising(BackendBusy("busy")).get("/boom").headers["Retry-After"] == "5"
    limited = ApiError(503, "Uploads are busy.", headers={"Retry-After": "10"})
    assert client_raising(limited).get("/boom").headers["Retry-After"] == "10"


def test_a_401_carries_its_challenge() -> None:
    response = client_raising(ApiError(401, "Invalid API key.", challenge='Basic realm="docchat"')).get("/boom")
    assert response.headers["WWW-Authenticate"] == 'Basic realm="docchat"'
    assert client_raising(ApiError(401, "Key needed.")).get("/boom").headers["WWW-Authenticate"] == "Bearer"


@pytest.mark.parametrize("exc", [DatabaseClosed("database /srv/docchat/app.db is closed"),
                                 LLMServerError("Cannot reach http://10.1.2.3:8000/v1")])
def test_a_server_fault_is_answered_by_error_id_only(exc: Exception) -> None:
    response = client_raising(exc).get("/boom")
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error" and "error id" in error["message"]
    assert "/srv" not in error["message"] and "10.1.2.3" not in error["message"]


def test_an_access_error_keeps_its_status() -> None:
    assert client_raising(AccessError(403, "X-User-Id names another user.")).get("/boom").status_code == 403
