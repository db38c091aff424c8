"""Who is calling, and what they may see: the one place every skin asks.

The HTTP routes and the MCP tools hand over the request's headers (``caller``), the
Gradio UI its login name and browser id (``browser_caller``), the page route a signed
link or the headers (``page_scope``), the services a user id (``scope``). The rules of
the modes (local, logins and per-user keys, gateway) and the credential files are
``access.py``'s ``AccessPolicy``; the answer every skin gets is a ``Caller``.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Callable, Mapping

from access import (AccessError, AccessPolicy, BadCredentials, document_scope, is_loopback, parse_entries,
                    read_entries)
from services import page_links
from settings import Settings

# The skins catch these and read credential entries through here, not access.py.
__all__ = ["Access", "AccessError", "BadCredentials", "Caller", "is_loopback", "new_browser_id", "parse_entries",
           "read_entries"]

BROWSER_ID_PREFIX = "web-"
_BROWSER_ID = re.compile(r"^web-[0-9a-f]{32}$")
NOT_FOUND = "No such document or page."


@dataclass(frozen=True)
class Caller:
    """``user_id`` owns conversations; ``scope`` names whose documents they see (None: the
    shared ones); ``method`` says how the identity was established (local | login |
    user-key | gateway | browser)."""

    user_id: str
    method: str
    scope: str | None


def new_browser_id() -> str:
    return BROWSER_ID_PREFIX + uuid.uuid4().hex


class Access:
    def __init__(self, settings: Settings, policy: AccessPolicy) -> None:
        self.settings = settings
        self.policy = policy  # the login check of the UI and the MCP guard use it too

    @classmethod
    def from_settings(cls, settings: Settings) -> "Access":
        """Reads the credential files: a bad one raises ``BadCredentials`` now."""
        return cls(settings, AccessPolicy.from_settings(settings))

    def login_check(self) -> Callable[[str, str], bool] | None:
        """The UI's login check (the same as HTTP Basic's), or None for an open UI."""
        return self.policy.check_login if self.policy.authenticates_users else None

    def scope(self, user_id: str | None) -> str | None:
        """Whose documents ``user_id`` sees: their own with --private-docs, else the shared ones."""
        return document_scope(self.settings, user_id)

    def _caller(self, user_id: str, method: str) -> Caller:
        return Caller(user_id, method, self.scope(user_id))

    def caller(self, headers: Mapping[str, str]) -> Caller:
        """The caller an HTTP or MCP request's headers name; ``AccessError`` (400/401/403) if refused."""
        identity = self.policy.identify({k.lower(): v for k, v in headers.items()})
        return self._caller(identity.user_id, identity.method)

    def browser_caller(self, browser_id: str | None, username: str | None) -> tuple[Caller, str]:
        """A UI tab's caller and the browser id to keep in its localStorage.

        With a login the name is the identity, whatever the browser; without one each
        browser keeps a random id, so a reload brings back its conversations. A stored id
        that does not look like ours (tampered, or from an older version) is replaced
        instead of trusted as someone else's name.
        """
        if not browser_id or not _BROWSER_ID.match(str(browser_id)):
            browser_id = new_browser_id()
        if username:
            return self._caller(username, "login"), browser_id
        return self._caller(browser_id, "browser"), browser_id

    def page_scope(self, document_id: str, headers: Mapping[str, str], o: str | None = None,
                   exp: int | None = None, sig: str | None = None) -> str | None:
        """The scope a page image or PDF is looked up in: a valid signed link's (handed out
        by ``link_key``'s owner, services/documents.py), else the caller's. A bad link is 404."""
        if sig is None:
            return self.caller(headers).scope
        scope = o or ""
        if not page_links.verify(self.link_key(), document_id, scope, exp, sig):
            raise AccessError(404, NOT_FOUND)
        return scope or None

    def link_key(self) -> bytes:
        return page_links.link_key(self.settings.data_dir)
