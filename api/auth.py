"""FastAPI's skin over ``services.access``: every API route asks it who is calling.

``require_api_key`` (a router-wide dependency, name kept for the routers) establishes
the caller once per request — 401 with ``WWW-Authenticate`` when credentials are needed
and missing, 403 when ``X-User-Id`` contradicts them — and applies the rate limit;
``current_user`` hands the caller's user id to the route. The rules themselves live in
services/access.py (and access.py under it), so the UI and MCP follow the same ones.
"""

from __future__ import annotations

import logging

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer

from api.errors import ApiError
from api.limits import request_kind
from services.access import AccessError, Caller

logger = logging.getLogger(__name__)

__all__ = ["as_api_error", "current_user", "request_caller", "require_api_key"]

# auto_error=False: we answer 401 ourselves, in the API's error shape; declaring them puts
# both schemes into /openapi.json so /docs has an "Authorize" button.
_bearer = HTTPBearer(auto_error=False, description="A per-user key (--api-keys-file) or the shared --api-key.")
_basic = HTTPBasic(auto_error=False, description="A UI login (--auth / --auth-file).")


def as_api_error(exc: AccessError) -> ApiError:
    return ApiError(exc.status, exc.message, challenge=exc.challenge)


def request_caller(request: Request) -> Caller:
    """The caller of ``request``, established once and kept on ``request.state``."""
    caller = getattr(request.state, "caller", None)
    if caller is None:
        try:
            caller = request.app.state.services.access.caller(request.headers)
        except AccessError as exc:
            raise as_api_error(exc) from None
        request.state.caller = caller
    return caller


def require_api_key(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    basic: HTTPBasicCredentials | None = Depends(_basic),
) -> None:
    """401/403 unless the request carries what this server's mode asks for;
    429 when this user sends chats or uploads faster than the rate limit allows."""
    caller = request_caller(request)
    kind = request_kind(request.method, request.url.path)
    limiter = getattr(request.app.state, "rate_limiter", None)
    if kind and limiter is not None:
        limiter.check(caller.user_id, kind)


def current_user(
    request: Request,
    x_user_id: str | None = Header(
        None,
        alias="X-User-Id",
        description="Who is asking, in local and gateway mode; with logins it must be you or absent.",
    ),
) -> str:
    return request_caller(request).user_id
