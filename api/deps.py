"""FastAPI dependencies that hand the shared services to a route.

``create_app`` stores the one ``Services`` object on ``app.state``; routes ask for it
with ``Depends(get_services)`` instead of importing globals, so two apps (tests, a
second instance) never share state by accident.
"""

from __future__ import annotations

from fastapi import Request

from access import document_scope
from services import Services


def get_services(request: Request) -> Services:
    return request.app.state.services


def document_owner(services: Services, user_id: str) -> str | None:
    """Document scope of ``user_id`` (the rule lives in access.py, shared with UI and MCP)."""
    return document_scope(services.settings, user_id)
