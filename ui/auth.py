"""UI logins from ``--auth user:password`` (repeatable) and ``--auth-file``.

Gradio asks ``auth(username, password) -> bool`` on its login page; the logged-in name
then arrives as ``gr.Request.username`` and becomes the user id (ui/session.py).
"""

from __future__ import annotations

import hmac
import logging
from pathlib import Path
from typing import Callable, Iterable

from rag.types import DocchatError

log = logging.getLogger(__name__)


class BadCredentials(DocchatError):
    """An auth entry is not of the form 'user:password'."""


def parse_credentials(entries: Iterable[str]) -> dict[str, str]:
    """'user:password' entries → {user: password}; blank lines and '#' comments are skipped.

    The password may itself contain ':' (only the first one separates).
    """
    logins: dict[str, str] = {}
    for raw in entries:
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        user, sep, password = entry.partition(":")
        if not sep or not user.strip() or not password:
            raise BadCredentials(f"Auth entry {entry.split(':')[0]!r} is not 'user:password'.")
        logins[user.strip()] = password
    return logins


def load_credentials(auth: Iterable[str] = (), auth_file: Path | None = None) -> dict[str, str]:
    """All logins from the repeatable flag and the file (the file wins on a repeated user)."""
    logins = parse_credentials(auth)
    if auth_file is not None:
        try:
            lines = Path(auth_file).read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise BadCredentials(f"Cannot read the auth file {auth_file}: {exc.strerror}") from exc
        logins.update(parse_credentials(lines))
    return logins


def make_checker(logins: dict[str, str]) -> Callable[[str, str], bool]:
    """A constant-time ``(username, password) -> bool`` for gr.mount_gradio_app(auth=...)."""

    def check(username: str, password: str) -> bool:
        expected = logins.get(username)
        if expected is None:
            # Compare anyway so an unknown user takes as long as a wrong password.
            hmac.compare_digest(password.encode(), password.encode())
            return False
        return hmac.compare_digest(expected.encode(), password.encode())

    return check


def auth_callable(settings) -> Callable[[str, str], bool] | None:
    """The login check for the UI, or None when no login is configured (open UI)."""
    logins = load_credentials(getattr(settings, "auth", None) or [], getattr(settings, "auth_file", None))
    if not logins:
        return None
    log.info("UI login enabled for %d user(s)", len(logins))
    return make_checker(logins)
