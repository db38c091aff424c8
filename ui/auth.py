"""The UI login: Gradio asks ``auth(username, password) -> bool`` on its login page.

The check is ``AccessPolicy.check_login`` (access.py), the same one HTTP Basic on the API
uses, so a login works identically in the browser and with curl; a user with a per-user
API key may also log in with it. The logged-in name then arrives as
``gr.Request.username`` and becomes the user id (ui/session.py).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Callable, Iterable

from access import AccessPolicy, BadCredentials, parse_entries, read_entries
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


def login_check(policy: AccessPolicy) -> Callable[[str, str], bool] | None:
    """The UI's login check under ``policy``, or None for an open UI (local and gateway modes)."""
    if not policy.authenticates_users:
        return None
    log.info("UI login enabled (%s)", "logins and keys" if policy.has_logins and policy.has_user_keys
             else "logins" if policy.has_logins else "per-user API keys")
    return policy.check_login


def auth_callable(settings: Settings) -> Callable[[str, str], bool] | None:
    """The login check for the UI from settings alone, or None when none is configured."""
    return login_check(AccessPolicy.from_settings(settings))
