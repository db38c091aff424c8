"""One JSON error shape for every API failure: ``{"error": {"message", "type"}}``.

Why here: FastAPI answers validation errors with ``{"detail": [...]}`` and HTTP
exceptions with ``{"detail": "..."}``; OpenAI-style clients and DESIGN.md §5 expect
``{"error": {...}}``. Every exception a request can raise is turned into that shape
once, at the edge, so routes only raise (``ApiError`` or any other ``DocchatError``,
which carries its own ``http_status``) and never build error bodies themselves.
Bad input is always a 4xx; only a real bug (or a ``DocchatError`` whose status is 500)
reaches the 500, answered with an error id.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from errors import DocchatError, user_message

logger = logging.getLogger(__name__)

# The `type` values clients can switch on (OpenAI's names where OpenAI has one).
INVALID_REQUEST = "invalid_request_error"
AUTHENTICATION = "authentication_error"
NOT_FOUND = "not_found_error"
TOO_LARGE = "request_too_large"
OVERLOADED = "server_busy"
RATE_LIMITED = "rate_limit_error"
SERVER_ERROR = "server_error"

_TYPE_BY_STATUS = {
    401: AUTHENTICATION,
    403: AUTHENTICATION,
    404: NOT_FOUND,
    413: TOO_LARGE,
    429: RATE_LIMITED,
    503: OVERLOADED,
}


class ErrorDetail(BaseModel):
    message: str
    type: str


class ErrorResponse(BaseModel):
    """Body of every 4xx/5xx answer of the API."""

    error: ErrorDetail


def _documented(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


# Passed as ``responses=`` to every API router so /openapi.json tells the truth.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: _documented("Bad input (malformed JSON, unreadable value, invalid identity header)"),
    401: _documented("Missing or wrong credentials (when the server has logins or keys)"),
    403: _documented("X-User-Id names another user than the authenticated one, or a foreign Origin"),
    404: _documented("Unknown or not yours"),
    413: _documented("Upload larger than --max-upload-mb"),
    429: _documented("Too many requests for this user (--rate-limit-per-minute)"),
    422: _documented("The body or a parameter does not match the schema"),
    503: _documented("The model or the uploads are busy; retry after Retry-After seconds"),
}


# Seconds a client is asked to wait after a 503 that names no Retry-After of its own.
RETRY_AFTER_S = "5"


class ApiError(DocchatError):
    """A user-actionable API failure with its HTTP status (raised by routes and dependencies)."""

    def __init__(
        self, status_code: int, message: str, type: str | None = None, challenge: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status_code = self.http_status = status_code
        self.message = message
        self.type = type or _TYPE_BY_STATUS.get(status_code, INVALID_REQUEST)
        self.challenge = challenge  # the WWW-Authenticate value of a 401
        self.headers = headers or {}  # e.g. Retry-After


def error_body(message: str, type: str = INVALID_REQUEST) -> dict[str, Any]:
    """The error object; also sent as an SSE event when a stream fails after its headers."""
    return {"error": {"message": message, "type": type}}


def error_response(
    status_code: int, message: str, type: str | None = None, headers: dict[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(
        error_body(message, type or _TYPE_BY_STATUS.get(status_code, INVALID_REQUEST)),
        status_code=status_code,
        headers=headers,
    )


def describe_validation_errors(errors: list[dict[str, Any]], limit: int = 5) -> str:
    """'body.query: Field required; body.k: Input should be ...' — short, readable, no input echo."""
    parts = []
    for err in errors[:limit]:
        location = ".".join(str(p) for p in err.get("loc", ()) if p != "body" or len(err["loc"]) == 1)
        parts.append(f"{location}: {err.get('msg', 'invalid value')}" if location else err.get("msg", ""))
    if len(errors) > limit:
        parts.append(f"... and {len(errors) - limit} more")
    return "; ".join(parts) or "invalid request"


def is_malformed_json(errors: list[dict[str, Any]]) -> bool:
    return any(err.get("type") == "json_invalid" for err in errors)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = list(exc.errors())
    if is_malformed_json(errors):
        return error_response(400, "The request body is not valid JSON.")
    return error_response(422, describe_validation_errors(errors))


async def _http_exception(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    message = exc.detail if isinstance(exc.detail, str) else "HTTP error"
    return error_response(exc.status_code, message, headers=getattr(exc, "headers", None))


async def _docchat_error(request: Request, exc: DocchatError) -> JSONResponse:
    """Our own errors, answered with the status each carries; a 500 only by error id."""
    status = exc.http_status
    if status == 500:
        return await _unexpected(request, exc)
    api = exc if isinstance(exc, ApiError) else None
    headers = dict(api.headers) if api else {}
    if status == 503:
        headers.setdefault("Retry-After", RETRY_AFTER_S)
    if status == 401:
        headers["WWW-Authenticate"] = (api.challenge if api else None) or "Bearer"
    message = api.message if api else str(exc) or type(exc).__name__
    return error_response(status, message, api.type if api else None, headers=headers)


def log_with_error_id(exc: BaseException, where: str) -> str:
    """Log ``exc`` with its traceback under a fresh id and return the id.

    Exception text can carry server paths or document text: it goes to the log only, and
    the caller gets the id to quote when reporting the problem.
    """
    error_id = uuid.uuid4().hex[:12]
    logger.error("error %s in %s", error_id, where, exc_info=exc)
    return error_id


def public_message(exc: BaseException, where: str) -> str:
    """What a caller may read about ``exc``: our own user-facing messages as they are,
    anything else only as an error id (the details go to the log)."""
    return user_message(exc) or f"Generation failed (error id {log_with_error_id(exc, where)})."


async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug, not bad input: logged with its traceback and an id, answered with the id only."""
    error_id = log_with_error_id(exc, f"{request.method} {request.url.path}")
    return error_response(500, f"Internal server error (error id {error_id}).", SERVER_ERROR)


def install_error_handlers(app: FastAPI) -> None:
    """Route every known exception to the one error shape."""
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
    app.add_exception_handler(DocchatError, _docchat_error)
    app.add_exception_handler(Exception, _unexpected)
