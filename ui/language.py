"""Which language a browser gets, the switch in Settings, and how both reach Gradio.

Gradio picks its locale once, from ``navigator.language``, before any app code runs,
and only knows exact locales (``zh-HK`` or plain ``zh`` would get English). So a tiny
script goes first into the page's ``<head>`` (``BootScript`` middleware on the Gradio
app): it decides the language — the switch's choice kept in localStorage, else the
browser's (``zh*`` → Chinese, anything else → English) — and shows it to Gradio as
``navigator.language`` (``zh-CN`` or ``en``). Every static text then comes up in that
language through ``gr.I18n``, Gradio's own strings included.

The same script writes the decision to the ``docchat-lang`` cookie, which is how event
handlers know the language of the text they compute (``request_language``). Changing
the switch stores the choice and reloads the page; it is remembered per browser across
reloads and server restarts.
"""

from __future__ import annotations

import json
import re
from http.cookies import CookieError, SimpleCookie
from typing import Any

from ui.i18n import DEFAULT_LANGUAGE, EN, LOCALES, TRANSLATIONS, normalize

STORAGE_KEY = "docchat-language"  # localStorage: "zh" | "en"; absent = follow the browser
COOKIE = "docchat-lang"  # the language in use, for the server: "zh" | "en"
AUTO = "auto"

# Gradio 6 titles a toast with its English type ("Warning") whatever ``title`` says;
# the boot script renames those titles in the page's language.
_TOAST_TITLES = {
    lang: {EN[f"toast_{kind}"]: table[f"toast_{kind}"] for kind in ("warning", "info", "error", "success")}
    for lang, table in TRANSLATIONS.items()
}

BOOT_JS = f"""(() => {{
  const locales = {json.dumps(LOCALES)};
  let choice = null;
  try {{ choice = localStorage.getItem({json.dumps(STORAGE_KEY)}); }} catch (e) {{}}
  const browser = String(navigator.language || (navigator.languages || [])[0] || "en").toLowerCase();
  const lang = choice in locales ? choice : (browser.startsWith("zh") ? "zh" : "en");
  const locale = locales[lang];
  try {{
    Object.defineProperty(navigator, "language", {{ get: () => locale, configurable: true }});
    Object.defineProperty(navigator, "languages", {{ get: () => [locale], configurable: true }});
  }} catch (e) {{}}
  document.cookie = {json.dumps(COOKIE + "=")} + lang + "; path=/; max-age=31536000; SameSite=Lax";
  document.documentElement.lang = locale;
  const titles = {json.dumps(_TOAST_TITLES, ensure_ascii=False)}[lang];
  const rename = () => {{
    for (const title of document.querySelectorAll("[data-testid=toast-body] .toast-title")) {{
      const text = title.firstChild;
      const said = text && text.nodeType === Node.TEXT_NODE && titles[text.nodeValue.trim()];
      if (said && said !== text.nodeValue.trim()) text.nodeValue = said + " ";
    }}
  }};
  if (lang !== "en") {{
    const watch = {{ subtree: true, childList: true, characterData: true }};
    new MutationObserver(rename).observe(document.documentElement, watch);
  }}
}})();"""

# The switch: remember the choice in this browser and show the page again in it.
SWITCH_JS = f"""(choice) => {{
  try {{
    if (choice === {json.dumps(AUTO)}) localStorage.removeItem({json.dumps(STORAGE_KEY)});
    else localStorage.setItem({json.dumps(STORAGE_KEY)}, choice);
  }} catch (e) {{}}
  window.location.reload();
  return choice;
}}"""

# On page load: the switch shows what this browser chose.
CURRENT_CHOICE_JS = f"""() => {{
  let choice = null;
  try {{ choice = localStorage.getItem({json.dumps(STORAGE_KEY)}); }} catch (e) {{}}
  return choice in {json.dumps(LOCALES)} ? choice : {json.dumps(AUTO)};
}}"""

_HEAD = re.compile(rb"<head[^>]*>", re.IGNORECASE)


def choices() -> list[tuple[Any, str]]:
    """The switch's options; each language is named in itself."""
    from ui.i18n import L

    return [(L("language_auto"), AUTO), ("简体中文", "zh"), ("English", "en")]


def request_language(request: Any) -> str:
    """'zh' or 'en' for the tab behind ``request`` (a gr.Request or a Starlette request).

    The boot script's cookie says what the page shows; without it (an old tab, cookies
    off) the browser's Accept-Language decides, as the page itself would have.
    """
    headers = getattr(request, "headers", None) or {}
    try:
        cookies = SimpleCookie(headers.get("cookie", "") or "")
    except CookieError:
        cookies = SimpleCookie()
    if COOKIE in cookies and cookies[COOKIE].value in LOCALES:
        return cookies[COOKIE].value
    accept = str(headers.get("accept-language", "") or "")
    first = accept.split(",")[0].split(";")[0].strip()
    return normalize(first) if first else DEFAULT_LANGUAGE


class BootScript:
    """ASGI middleware: put ``BOOT_JS`` first in the ``<head>`` of every HTML page Gradio serves."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.tag = f"<script>{BOOT_JS}</script>".encode()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope.get("type") != "http" or scope.get("method") == "HEAD":
            await self.app(scope, receive, send)
            return
        start: dict | None = None
        body: list[bytes] = []

        async def send_wrapper(message: dict) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers") or [])
                if headers.get(b"content-type", b"").startswith(b"text/html") and b"content-encoding" not in headers:
                    start = message  # hold it: the length changes
                    return
                await send(message)
            elif message["type"] == "http.response.body" and start is not None:
                body.append(message.get("body", b""))
                if message.get("more_body"):
                    return
                html = _HEAD.sub(lambda m: m.group(0) + self.tag, b"".join(body), count=1)
                headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
                headers.append((b"content-length", str(len(html)).encode()))
                await send({**start, "headers": headers})
                await send({"type": "http.response.body", "body": html})
            else:
                await send(message)

        await self.app(scope, receive, send_wrapper)
