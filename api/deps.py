"""FastAPI dependencies that hand the shared services to a route.

``create_app`` stores the one ``Services`` object on ``app.state``; routes ask for it
with ``Depends(get_services)`` instead of importing globals, so two apps (tests, a
second instance) never share state by accident.
"""

from __future__ import annotations

from fastapi import Request

from services import Services


def get_services(request: Request) -> Services:
    return request.app.state.services
