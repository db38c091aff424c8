"""Small HTTP helpers for talking to a running docchat server in the reliability tests."""

from __future__ import annotations

import httpx

from tests.conftest import ServerHandle

UPLOAD_TIMEOUT_S = 600


def upload(server: ServerHandle, files: list[tuple[str, bytes]], user: str | None = None,
           headers: dict[str, str] | None = None) -> httpx.Response:
    """POST /api/documents with one multipart part ``files`` per (name, bytes)."""
    parts = [("files", (name, data, "application/pdf")) for name, data in files]
    return httpx.post(f"{server.base_url}/api/documents", files=parts,
                      headers={**server.headers(user), **(headers or {})}, timeout=UPLOAD_TIMEOUT_S)


def chat(server: ServerHandle, user: str, query: str, conversation_id: str | None = None,
         max_tokens: int = 8, **extra) -> httpx.Response:
    body = {"query": query, "max_tokens": max_tokens, "conversation_id": conversation_id, **extra}
    return httpx.post(f"{server.base_url}/api/chat", json=body, headers=server.headers(user), timeout=600)


def messages(server: ServerHandle, user: str, conversation_id: str) -> httpx.Response:
    return httpx.get(f"{server.base_url}/api/conversations/{conversation_id}/messages",
                     headers=server.headers(user), timeout=60)
