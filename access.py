"""The rules of who is calling, and which documents they may see: the credentials and
modes under services/access.py, which every skin (the UI, every API route, MCP) asks.

Why one rule: identity used to be worked out in several places (the API's headers, the
UI's login, the pipeline's document scope) and they disagreed — a UI login protected
nothing while ``X-User-Id: alice`` on the API spoke as alice. Now every entry point asks
``services.access``, which asks ``AccessPolicy`` here, and gets the same answer.

The modes (README "Security"):

* **local** — no logins, no keys, bound to loopback: ``X-User-Id`` names the user, else
  ``default``. Anyone who can reach 127.0.0.1 is trusted, as on a laptop.
* **logins / per-user keys** — ``--auth``/``--auth-file`` and/or ``--api-keys-file``:
  every API route needs HTTP Basic with a login or ``Authorization: Bearer <user key>``;
  the identity is that user and an ``X-User-Id`` naming anyone else is refused (403).
* **gateway** — only ``--api-key`` (one shared key): a trusted gateway in front holds
  the users; with the key, ``X-User-Id`` names the user.

``--auth-file`` lines may hold argon2 (``$argon2id$…``) or bcrypt (``$2b$…``) hashes
instead of plain passwords; ``python -m access hash`` prints one. Every comparison is
constant-time, and an unknown user costs as much as a wrong password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import ipaddress
import logging
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from errors import DocchatError
from settings import Settings

log = logging.getLogger(__name__)

DEFAULT_USER = "default"
MAX_USER_ID_CHARS = 64
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})
_VERIFIED_CACHE_LIMIT = 4096


class AccessError(DocchatError):
    """A refused request: ``status`` 400/401/403, a message safe to show, and the
    ``WWW-Authenticate`` challenge a 401 must carry."""

    def __init__(self, status: int, message: str, challenge: str | None = None) -> None:
        super().__init__(message)
        self.status = self.http_status = status
        self.message = message
        self.challenge = challenge


class BadCredentials(DocchatError, ValueError):
    """An auth or key entry is not 'user:secret' (a start-up error, never shown to callers)."""


@dataclass(frozen=True)
class Identity:
    """The caller: ``user_id`` scopes conversations (and documents with --private-docs);
    ``method`` says how it was established: local | login | user-key | gateway."""

    user_id: str
    method: str


# --- credential files -------------------------------------------------------------


def parse_entries(entries: Iterable[str], what: str = "Auth") -> dict[str, str]:
    """'user:secret' entries → {user: secret}; blank lines and '#' comments are skipped.

    The secret may itself contain ':' (only the first one separates).
    """
    parsed: dict[str, str] = {}
    for raw in entries:
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        user, sep, secret = entry.partition(":")
        if not sep or not user.strip() or not secret:
            raise BadCredentials(f"{what} entry {entry.split(':')[0]!r} is not 'user:secret'.")
        parsed[user.strip()] = secret
    return parsed


def read_entries(path: Path | None, what: str) -> dict[str, str]:
    if path is None:
        return {}
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise BadCredentials(f"Cannot read the {what.lower()} file {path}: {exc.strerror}") from exc
    return parse_entries(lines, what)


def is_hash(secret: str) -> bool:
    return secret.startswith(("$argon2", "$2a$", "$2b$", "$2y$"))


def verify_secret(stored: str, offered: str) -> bool:
    """``offered`` against a stored plain secret or an argon2/bcrypt hash, constant-time."""
    if stored.startswith("$argon2"):
        from argon2 import PasswordHasher
        from argon2.exceptions import Argon2Error, InvalidHashError

        try:
            return PasswordHasher().verify(stored, offered)
        except (Argon2Error, InvalidHashError):
            return False
    if stored.startswith(("$2a$", "$2b$", "$2y$")):
        import bcrypt

        try:
            return bcrypt.checkpw(offered.encode(), stored.encode())
        except ValueError:
            return False
    return hmac.compare_digest(stored.encode(), offered.encode())


def hash_password(password: str) -> str:
    """An argon2id hash for an --auth-file line."""
    from argon2 import PasswordHasher

    return PasswordHasher().hash(password)


# --- the policy ---------------------------------------------------------------------


def validate_user_id(raw: str | None) -> str:
    """A short printable id without surrounding blanks; absent or empty is the default user."""
    if raw is None or raw == "":
        return DEFAULT_USER
    if len(raw) > MAX_USER_ID_CHARS or not raw.isprintable() or raw != raw.strip():
        raise AccessError(
            400,
            f"X-User-Id must be 1-{MAX_USER_ID_CHARS} printable characters without leading "
            "or trailing spaces.",
        )
    return raw


def is_loopback(host: str) -> bool:
    name = host.strip().lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name.strip("[]")).is_loopback
    except ValueError:
        return False


def document_scope(settings: Settings, user_id: str | None) -> str | None:
    """Whose documents ``user_id`` sees: their own with --private-docs, else the shared
    collection (None). The one rule the pipeline, the knowledge base and every route use."""
    if user_id and settings.private_docs:
        return user_id
    return None


class AccessPolicy:
    """Credentials loaded once at start-up, and the rules that turn a request into an Identity."""

    def __init__(
        self,
        settings: Settings,
        logins: Mapping[str, str] | None = None,
        user_keys: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.logins = dict(logins or {})
        # Looked up by a digest of the key: a dict lookup then leaks nothing useful about it.
        self._key_users = {_digest(key): user for user, key in (user_keys or {}).items()}
        self.shared_key = settings.api_key or None
        self._verified: set[bytes] = set()
        self._verified_lock = threading.Lock()
        self._cache_salt = secrets.token_bytes(16)
        hashed = [s for s in self.logins.values() if is_hash(s)]
        self._dummy = hashed[0] if hashed else secrets.token_urlsafe(16)

    @classmethod
    def from_settings(cls, settings: Settings) -> "AccessPolicy":
        logins = parse_entries(settings.auth, "Auth")
        logins.update(read_entries(settings.auth_file, "Auth"))
        keys = read_entries(settings.api_keys_file, "API key")
        return cls(settings, logins, keys)

    # --- what is configured ----------------------------------------------------------
    @property
    def has_logins(self) -> bool:
        return bool(self.logins)

    @property
    def has_user_keys(self) -> bool:
        return bool(self._key_users)

    @property
    def authenticates_users(self) -> bool:
        """Logins or per-user keys: the identity comes from a credential, never a header."""
        return self.has_logins or self.has_user_keys

    @property
    def mode(self) -> str:
        if self.authenticates_users:
            return "users"
        if self.shared_key:
            return "gateway"
        return "local"

    def startup_problem(self) -> str | None:
        """Why this configuration must not start, or None.

        Sharing or binding beyond loopback with nobody to authenticate would hand every
        document and conversation to whoever finds the address.
        """
        s = self.settings
        if getattr(s, "allow_anonymous", False):
            return None
        share = bool(getattr(s, "share", False))
        exposed = not is_loopback(str(getattr(s, "host", "127.0.0.1")))
        if share and not self.authenticates_users:
            return ("--share puts docchat on the public internet: add UI logins (--auth user:password or "
                    "--auth-file FILE) or per-user keys (--api-keys-file FILE), or pass --allow-anonymous "
                    "to share it open on purpose.")
        if exposed and self.mode == "local":
            return (f"--host {s.host} exposes docchat on the network with no login: add --auth user:password, "
                    "--auth-file FILE, --api-keys-file FILE or --api-key KEY (behind a trusted gateway), "
                    "or pass --allow-anonymous to run it open on purpose.")
        return None

    # --- checks ------------------------------------------------------------------------
    def check_login(self, username: str, password: str) -> bool:
        """A UI or HTTP Basic login: a configured login, or a user with their API key."""
        stored = self.logins.get(username)
        if stored is None:
            key_user = self._key_users.get(_digest(password))
            # Unknown user: spend what a wrong password costs, then say no.
            verify_secret(self._dummy, password)
            return key_user is not None and hmac.compare_digest(key_user.encode(), username.encode())
        marker = hmac.new(self._cache_salt, f"{username}\0{password}".encode(), hashlib.sha256).digest()
        with self._verified_lock:
            if marker in self._verified:
                return True
        if not verify_secret(stored, password):
            return False
        with self._verified_lock:  # argon2 is slow on purpose; an API client sends Basic every call
            if len(self._verified) >= _VERIFIED_CACHE_LIMIT:
                self._verified.clear()
            self._verified.add(marker)
        return True

    def user_for_key(self, key: str) -> str | None:
        return self._key_users.get(_digest(key))

    def _challenge(self) -> str:
        if self.has_logins:
            return 'Basic realm="docchat", charset="UTF-8"'
        return 'Bearer realm="docchat"'

    def identify(self, headers: Mapping[str, str]) -> Identity:
        """The caller named by request headers (case-insensitive mapping), or AccessError.

        Independent of FastAPI so the MCP server and the UI can call it with any headers.
        """
        claimed = headers.get("x-user-id")
        scheme, _, value = (headers.get("authorization") or "").partition(" ")
        scheme, value = scheme.lower(), value.strip()
        if self.mode == "local":
            return Identity(validate_user_id(claimed), "local")

        user: str | None = None
        method = ""
        if scheme == "basic" and value:
            username, password = _basic_pair(value)
            if username is not None and self.check_login(username, password):
                user, method = username, "login"
            else:
                raise AccessError(401, "Wrong user name or password.", self._challenge())
        elif scheme == "bearer" and value:
            user = self.user_for_key(value)
            method = "user-key"
            if user is None and self.shared_key and hmac.compare_digest(value.encode(), self.shared_key.encode()):
                return Identity(validate_user_id(claimed), "gateway")
            if user is None:
                raise AccessError(401, "Invalid API key.", self._challenge())
        else:
            how = "HTTP Basic with your login" if self.has_logins else ""
            if self.has_user_keys or self.shared_key:
                how += (" or " if how else "") + "'Authorization: Bearer <key>'"
            raise AccessError(401, f"Authentication required: send {how}.", self._challenge())

        if claimed not in (None, "", user):
            raise AccessError(403, "X-User-Id names another user than the one authenticated.")
        return Identity(user, method)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


def _basic_pair(value: str) -> tuple[str | None, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None, ""
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else (None, "")


def main(argv: list[str] | None = None) -> int:
    """``python -m access hash``: read a password (twice) and print an --auth-file hash."""
    import argparse
    import getpass

    parser = argparse.ArgumentParser(prog="python -m access", description=main.__doc__)
    parser.add_argument("command", choices=["hash"])
    parser.add_argument("--user", default=None, help="print 'user:hash' instead of the bare hash")
    args = parser.parse_args(argv)
    password = getpass.getpass("Password: ")
    if password != getpass.getpass("Again: "):
        print("The passwords differ.")
        return 1
    hashed = hash_password(password)
    print(f"{args.user}:{hashed}" if args.user else hashed)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
