"""Protection against hostile web pages in the user's own browser.

Why: docchat trusts whoever reaches 127.0.0.1 in local mode, and a browser will happily
let any web page send requests there.

* **DNS rebinding** — a page on ``evil.example`` re-points its name at 127.0.0.1 and then
  reads docchat as "same origin". Its requests carry ``Host: evil.example``, so only
  names we know are answered: loopback names, IP literals (a rebinding attack needs a
  domain name), the bound host, Gradio's share domain with ``--share``, and
  ``--allowed-hosts``. Others get 421.
* **Cross-site requests (CSRF)** — any page can POST a form or a ``fetch`` to the
  API. A state-changing request (anything but GET/HEAD/OPTIONS) whose ``Origin`` is
  neither this server nor one of ``--cors-origins`` gets 403.
* **CORS** stays off unless ``--cors-origins`` names who may read answers.
"""

from __future__ import annotations

import ipaddress
from typing import Iterable
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from settings import Settings

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SHARE_DOMAIN_SUFFIX = ".gradio.live"


def _hostname(host: str) -> str:
    """'Example.org:7860' → 'example.org'; '[::1]:7860' → '::1'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        return False


class HostPolicy:
    """Which Host names and Origins this server accepts, from the settings."""

    def __init__(self, bound_host: str, allowed_hosts: Iterable[str] = (), share: bool = False,
                 cors_origins: Iterable[str] = ()) -> None:
        names = {"localhost", _hostname(bound_host), *(_hostname(h) for h in allowed_hosts if h)}
        self.any_host = "*" in names
        self.names = {n for n in names if n and n not in ("*", "0.0.0.0", "::")}
        self.share = share
        self.cors_origins = {o.rstrip("/").lower() for o in cors_origins if o}

    @classmethod
    def from_settings(cls, settings: Settings) -> "HostPolicy":
        return cls(settings.host, settings.allowed_hosts or (), bool(settings.share), settings.cors_origins or ())

    def host_allowed(self, host: str | None) -> bool:
        if self.any_host:
            return True
        if not host:
            return True  # HTTP/1.0 clients send none; a browser always sends one
        name = _hostname(host)
        if name in self.names or _is_ip(name) or name.endswith(".localhost"):
            return True
        return self.share and name.endswith(SHARE_DOMAIN_SUFFIX)

    def origin_allowed(self, origin: str, host: str | None) -> bool:
        """Same origin as the Host the browser sent, or a configured CORS origin."""
        origin = origin.strip().lower().rstrip("/")
        if origin in self.cors_origins or "*" in self.cors_origins:
            return True
        parts = urlsplit(origin)
        if not parts.scheme or not parts.netloc:
            return False  # "null" (sandboxed frames, file://) and garbage
        if self.share and parts.scheme == "https" and (parts.hostname or "").endswith(SHARE_DOMAIN_SUFFIX):
            return True  # the share tunnel may hand us its own Host
        return bool(host) and parts.netloc == host.strip().lower()


class BrowserGuard:
    """ASGI middleware over the whole app (API and the mounted UI) applying ``HostPolicy``."""

    def __init__(self, app: ASGIApp, policy: HostPolicy) -> None:
        self.app = app
        self.policy = policy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] in ("http", "websocket"):
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            host = headers.get("host")
            if not self.policy.host_allowed(host):
                if scope["type"] == "http":
                    await error_response(
                        421, "Unknown Host header: add this name with --allowed-hosts if it is yours."
                    )(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
            origin = headers.get("origin")
            changes_state = scope["type"] == "websocket" or scope.get("method", "GET") not in SAFE_METHODS
            if origin is not None and changes_state and not self.policy.origin_allowed(origin, host):
                if scope["type"] == "http":
                    await error_response(403, "Cross-site request refused (foreign Origin).")(scope, receive, send)
                else:
                    await send({"type": "websocket.close", "code": 1008})
                return
            if scope["type"] == "http":
                await self.app(scope, receive, _with_csp(send))
                return
        await self.app(scope, receive, send)


# Defence in depth for the UI: even if rendered model output slipped past the sanitizer,
# the page may not load images, media, frames or plugins from anywhere else.
CSP = "img-src 'self' data: blob:; media-src 'self' data: blob:; frame-src 'self'; object-src 'none'; base-uri 'self'"


def _with_csp(send: Send) -> Send:
    async def wrapped(message: dict) -> None:
        if message["type"] == "http.response.start":
            headers = list(message.get("headers", []))
            content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
            if content_type.startswith(b"text/html"):
                headers.append((b"content-security-policy", CSP.encode()))
                message = {**message, "headers": headers}
        await send(message)

    return wrapped
