"""The UI login: Gradio asks ``auth(username, password) -> bool`` on its login page.

The check is services/access.py's (``AccessPolicy.check_login`` under it), the same one
HTTP Basic on the API uses, so a login works identically in the browser and with curl;
a user with a per-user API key may also log in with it. The logged-in name then arrives
as ``gr.Request.username`` and becomes the user id (``Access.browser_caller``).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterable

from services.access import Access, BadCredentials, parse_entries, read_entries
from settings import Settings

log = logging.getLogger(__name__)

__all__ = ["BadCredentials", "auth_callable", "load_credentials", "login_check", "parse_credentials"]


def parse_credentials(entries: Iterable[str]) -> dict[str, str]:
    """'user:password' entries → {user: password}; blank lines and '#' comments are skipped."""
    return parse_entries(entries, "Auth")


def load_credentials(auth: Iterable[str] = (), auth_file: Path | None = None) -> dict[str, str]:
    """All logins from the repeatable flag and the file (the file wins on a repeated user)."""
    logins = parse_credentials(auth)
    logins.update(read_entries(auth_file, "Auth"))
    return logins


def login_check(access: Access) -> Callable[[str, str], bool] | None:
    """The UI's login check, or None for an open UI (local and gateway modes)."""
    check = access.login_check()
    if check is not None:
        policy = access.policy
        log.info("UI login enabled (%s)", "logins and keys" if policy.has_logins and policy.has_user_keys
                 else "logins" if policy.has_logins else "per-user API keys")
    return check


def auth_callable(settings: Settings) -> Callable[[str, str], bool] | None:
    """The login check for the UI from settings alone, or None when none is configured."""
    return login_check(Access.from_settings(settings))
