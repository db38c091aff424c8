"""FastAPI's skin over ``access.py``: every API route asks the one AccessPolicy who is calling.

``require_api_key`` (a router-wide dependency, name kept for the routers) establishes
the caller's ``Identity`` once per request — 401 with ``WWW-Authenticate`` when
credentials are needed and missing, 403 when ``X-User-Id`` contradicts them — and
``current_user`` hands its user id to the route. The rules themselves live in
access.py so the UI and the MCP server follow the same ones.
"""

from __future__ import annotations

import logging

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials, HTTPBearer

from access import DEFAULT_USER, MAX_USER_ID_CHARS, AccessError, AccessPolicy, Identity, validate_user_id
from api.errors import ApiError
from api.limits import request_kind

logger = logging.getLogger(__name__)

__all__ = ["DEFAULT_USER", "MAX_USER_ID_CHARS", "current_user", "require_api_key", "request_identity",
           "validate_user_id"]

# auto_error=False: we answer 401 ourselves, in the API's error shape; declaring them puts
# both schemes into /openapi.json so /docs has an "Authorize" button.
_bearer = HTTPBearer(auto_error=False, description="A per-user key (--api-keys-file) or the shared --api-key.")
_basic = HTTPBasic(auto_error=False, description="A UI login (--auth / --auth-file).")


def policy_of(request: Request) -> AccessPolicy:
    services = request.app.state.services
    if services.access is None:  # services built by hand (tests, scripts)
        services.access = AccessPolicy.from_settings(services.settings)
    return services.access


def request_identity(request: Request) -> Identity:
    """The caller of ``request``, established once and kept on ``request.state``."""
    identity = getattr(request.state, "identity", None)
    if identity is None:
        try:
            identity = policy_of(request).identify(request.headers)
        except AccessError as exc:
            raise ApiError(exc.status, exc.message, challenge=exc.challenge) from None
        request.state.identity = identity
    return identity


def require_api_key(
    request: Request,
    bearer: HTTPAuthorizationCredentials | None = Depends(_bearer),
    basic: HTTPBasicCredentials | None = Depends(_basic),
) -> None:
    """401/403 unless the request carries what this server's mode asks for (access.py);
    429 when this user sends chats or uploads faster than the rate limit allows."""
    identity = request_identity(request)
    kind = request_kind(request.method, request.url.path)
    limiter = getattr(request.app.state, "rate_limiter", None)
    if kind and limiter is not None:
        limiter.check(identity.user_id, kind)


def current_user(
    request: Request,
    x_user_id: str | None = Header(
        None,
        alias="X-User-Id",
        description="Who is asking, in local and gateway mode; with logins it must be you or absent.",
    ),
) -> str:
    return request_identity(request).user_id
