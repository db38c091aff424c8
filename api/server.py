"""The FastAPI app that carries docchat's HTTP API; the Gradio UI is mounted on it at "/".

``app.py`` does ``app = create_app(services)`` then ``gr.mount_gradio_app(app, ui, path="/")``.
Our routes are registered first, so they win over the catch-all UI mount; none of
them collides with Gradio's own paths (``/``, ``/config``, ``/gradio_api/...``,
``/assets``, ``/file=``, ``/login``, ...). Routes: ``/healthz``, ``/api/...``,
``/sse/subscribe``, ``/v1/...``, and the schema at ``/openapi.json`` + ``/docs``.
"""

from __future__ import annotations

import logging
import time

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware

from api import chat_routes, conversation_routes, document_routes, openai_routes, page_routes, sse_routes
from api.browser_guard import BrowserGuard, HostPolicy
from api.deps import get_services
from api.document_routes import upload_limit_bytes
from api.errors import install_error_handlers
from api.limits import BodySizeLimit, RateLimiter, UploadGate
from api.schemas import Health
from services import Services

logger = logging.getLogger(__name__)

DESCRIPTION = """\
Private chat over your PDFs, with page citations.

* **Documents**: upload, list, delete, hybrid search (`/api/documents`, `/api/search`).
* **Chat** (seed 003): `/api/chat`, stored per user (`X-User-Id`), streaming or not.
* **Seed 002**: `/sse/subscribe`, YuanChat's request and event envelope.
* **OpenAI-compatible**: `/v1/models`, `/v1/chat/completions` — use any OpenAI client.

Errors are `{"error": {"message", "type"}}` with a 4xx status. With logins (`--auth`,
`--auth-file`) send HTTP Basic or `Authorization: Bearer <your key>` (`--api-keys-file`);
with the shared `--api-key` send `Authorization: Bearer <key>` and `X-User-Id`.
"""


def create_app(services: Services) -> FastAPI:
    """The API app over already-built ``services`` (models loaded, stores open)."""
    app = FastAPI(
        title="docchat",
        version="0.1.0",
        description=DESCRIPTION,
        docs_url="/docs",
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.services = services
    app.state.started_at = int(time.time())
    install_error_handlers(app)
    settings = services.settings
    app.state.rate_limiter = RateLimiter.from_settings(settings)
    app.state.upload_gate = UploadGate(settings.max_api_uploads)
    app.add_middleware(BodySizeLimit, get_limit=lambda: upload_limit_bytes(services))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["*"],
            allow_headers=["Authorization", "Content-Type", "X-User-Id"],
        )
    if settings.mcp:
        from api.mcp_tools import McpAuthGuard

        app.add_middleware(McpAuthGuard, access=services.access)
    # Outermost: a foreign Host or Origin is refused before anything else runs (the UI too,
    # since app.py mounts Gradio on this app).
    app.add_middleware(BrowserGuard, policy=HostPolicy.from_settings(settings))

    app.add_api_route("/healthz", healthz, methods=["GET"], response_model=Health, tags=["health"])
    for module in (document_routes, page_routes, chat_routes, conversation_routes, sse_routes, openai_routes):
        app.include_router(module.router)
    return app


async def healthz(services: Services = Depends(get_services)) -> Health:
    """200 once the app is built: models are loaded before ``create_app`` is called."""
    info = services.model_info()
    return Health(model=info["chat_model"], embedding_model=info["embedding_model"], device=info.get("device"),
                  engine=info.get("engine"))

