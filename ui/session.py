"""The per-tab state the events share.

Without a login every browser keeps a random id in ``gr.BrowserState`` (localStorage),
so a reload brings back the same conversations and two browsers never share them; who
the tab is, from that id or the login name, is ``services.access.browser_caller``'s answer.
"""

from __future__ import annotations

import hashlib
import threading


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
