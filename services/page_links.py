"""Signed links to page images and PDFs, so the browser can load them as plain URLs.

An ``<img>`` or a link opened in a new tab sends no ``X-User-Id`` and no API key, so
the UI hands out URLs that carry their own proof: ``o`` (the document scope the UI
checked for this user), ``exp`` (when the link stops working) and ``sig``, an
itsdangerous signature (HMAC-SHA256) of document id, scope and expiry under a key kept
in the data dir. A signature only opens
what its user could already see. Links are signed when the viewer opens a page, so a
lifetime of hours costs nobody anything, and a link copied out of a shared session
stops working instead of opening the page forever. The key survives restarts.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from itsdangerous import Signer

KEY_FILE = "page-links.key"
LINK_LIFETIME_S = 12 * 3600
SALT = "docchat.page-link"  # a signature made for anything else never opens a page


def link_key(data_dir: Path) -> bytes:
    """The data dir's signing key, created (readable by the owner only) on first use."""
    path = Path(data_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another thread or process made it first
            pass
        else:
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_hex(32))
    return bytes.fromhex(path.read_text().strip())


def _signer(key: bytes) -> Signer:
    return Signer(key, salt=SALT, digest_method=hashlib.sha256)


def _signed_value(document_id: str, scope: str, expires: int) -> str:
    return f"{document_id}\n{scope}\n{expires}"


def sign(key: bytes, document_id: str, scope: str, expires: int) -> str:
    return _signer(key).get_signature(_signed_value(document_id, scope, expires)).decode("ascii")


def verify(key: bytes, document_id: str, scope: str, expires: int | None, signature: str,
           now: float | None = None) -> bool:
    """True for a signature made by ``sign`` over these values whose expiry has not passed."""
    if expires is None or expires < (time.time() if now is None else now):
        return False
    return _signer(key).verify_signature(_signed_value(document_id, scope, expires), signature or "")


def _signed(key: bytes, document_id: str, scope: str, lifetime_s: int) -> dict[str, str]:
    expires = int(time.time()) + lifetime_s
    return {"o": scope, "exp": str(expires), "sig": sign(key, document_id, scope, expires)}


def page_url(key: bytes, document_id: str, scope: str, page: int, chunk_id: str | None = None,
             width: int | None = None, lifetime_s: int = LINK_LIFETIME_S) -> str:
    """``/api/documents/{id}/pages/{page}?...`` that works without headers until it expires."""
    params = _signed(key, document_id, scope, lifetime_s)
    if chunk_id:
        params["chunk_id"] = chunk_id
    if width:
        params["width"] = str(width)
    return f"/api/documents/{quote(document_id)}/pages/{int(page)}?{urlencode(params)}"


def file_url(key: bytes, document_id: str, scope: str, page: int | None = None,
             lifetime_s: int = LINK_LIFETIME_S) -> str:
    """``/api/documents/{id}/file?...``, opened at ``page`` by the browser's PDF viewer."""
    params = urlencode(_signed(key, document_id, scope, lifetime_s))
    return f"/api/documents/{quote(document_id)}/file?{params}" + (f"#page={int(page)}" if page else "")
