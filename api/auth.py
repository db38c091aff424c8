"""Who is calling: the optional ``--api-key`` check and the user identity.

The API key is one shared secret for the whole server (DESIGN.md §5): it says "this
caller may use the API", not who they are. Identity therefore always comes from the
``X-User-Id`` header, else ``"default"``; it scopes conversations (and documents with
``--private-docs``), so it is validated like any other input.
"""

from __future__ import annotations

import hmac
import logging

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.errors import ApiError

logger = logging.getLogger(__name__)

DEFAULT_USER = "default"
MAX_USER_ID_CHARS = 64

# auto_error=False: we answer 401 ourselves, in the API's error shape; it also puts the
# Bearer scheme into /openapi.json so /docs has an "Authorize" button.
_bearer = HTTPBearer(auto_error=False, description="Needed only when the server runs with --api-key.")


def require_api_key(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
) -> None:
    """401 unless ``Authorization: Bearer <key>`` matches ``settings.api_key`` (when one is set)."""
    expected = request.app.state.services.settings.api_key
    if not expected:
        return
    if credentials is None:
        raise ApiError(401, "Missing API key: send 'Authorization: Bearer <key>'.")
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise ApiError(401, "Invalid API key.")


def validate_user_id(raw: str | None) -> str:
    """A short printable id without surrounding blanks; an absent or empty header is the default user."""
    if raw is None or raw == "":
        return DEFAULT_USER
    if len(raw) > MAX_USER_ID_CHARS or not raw.isprintable() or raw != raw.strip():
        raise ApiError(
            400,
            f"X-User-Id must be 1-{MAX_USER_ID_CHARS} printable characters without leading "
            "or trailing spaces.",
        )
    return raw


def current_user(
    x_user_id: str | None = Header(
        None,
        alias="X-User-Id",
        description="Who is asking; scopes conversations. Default: 'default'.",
    ),
) -> str:
    return validate_user_id(x_user_id)
