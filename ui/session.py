"""Who is using this browser tab, and the per-tab state the events share.

Without a login every browser keeps a random id in ``gr.BrowserState`` (localStorage),
so a reload brings back the same conversations and two browsers never share them. With
a login (``--auth``), the logged-in name is the identity, whatever the browser.
"""

from __future__ import annotations

import hashlib
import re
import threading
import uuid

BROWSER_ID_PREFIX = "web-"
_BROWSER_ID = re.compile(r"^web-[0-9a-f]{32}$")


def new_browser_id() -> str:
    return BROWSER_ID_PREFIX + uuid.uuid4().hex


def resolve_user(browser_id: str | None, username: str | None) -> tuple[str, str]:
    """(user id for the services, browser id to keep in localStorage).

    A stored id that does not look like ours (tampered, or from an older version) is
    replaced instead of trusted as someone else's name.
    """
    if not browser_id or not _BROWSER_ID.match(str(browser_id)):
        browser_id = new_browser_id()
    return (username or browser_id), browser_id


def browser_state_secret(data_dir: object) -> str:
    """A stable secret per data dir, so browser ids survive a server restart.

    Gradio encrypts BrowserState with it; a random one per process would give every user
    a new id (and hide their conversations) after each restart. The id is not a
    credential: use --auth when users must be kept apart for real.
    """
    return hashlib.sha256(f"docchat-browser-state:{data_dir}".encode()).hexdigest()[:32]


def new_cancel_event() -> threading.Event:
    """One per browser tab (gr.State calls this on load): #stop sets it, a new turn clears it."""
    return threading.Event()


def new_turn_lock() -> threading.Lock:
    """One per browser tab: a second question sent while an answer streams is refused."""
    return threading.Lock()
