"""Page images and original PDFs: what the source viewer shows (DESIGN.md §5).

``GET /api/documents/{id}/pages/{page}`` renders a page as PNG (``?width=``, capped;
``?chunk_id=`` highlights that chunk's text); ``GET /api/documents/{id}/file`` serves
the PDF inline. Access follows the documents API: a document the caller cannot list is
404, exactly like one that does not exist. A link signed by the UI (api/page_links.py)
stands in for the headers a browser cannot send with an ``<img>``.
"""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse

from api import page_links
from access import document_scope
from api.auth import request_identity
from api.deps import get_services
from api.errors import ERROR_RESPONSES, ApiError
from rag.page_render import MAX_WIDTH, MIN_WIDTH, PageNotFound
from services import Services

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/documents", tags=["documents"], responses=ERROR_RESPONSES)

DocumentId = Path(max_length=128, description="A document id from /api/documents")
NOT_FOUND = "No such document or page."


def page_scope(
    request: Request,
    document_id: str = DocumentId,
    o: str | None = Query(None, max_length=200, description="Scope of a signed link (from the UI)."),
    exp: int | None = Query(None, ge=0, le=2**40, description="Expiry (Unix time) of a signed link."),
    sig: str | None = Query(None, max_length=128, description="Signature of a link handed out by the UI."),
) -> str:
    """The owner scope to look the document up in: from a valid signed link, else the caller's
    (identified like on every API route: 401/403 without the credentials this mode asks for)."""
    services: Services = request.app.state.services
    if sig is not None:
        scope = o or ""
        if page_links.verify(page_links.link_key(services.settings.data_dir), document_id, scope, exp, sig):
            return scope
        raise ApiError(404, NOT_FOUND)
    return document_scope(services.settings, request_identity(request).user_id) or ""


def _ready_document(services: Services, document_id: str, scope: str):
    """The document if this scope can see it and it is ready; else 404 (unknown or not theirs)."""
    for doc in services.knowledge_base.list(scope or None):
        if doc.id == document_id and doc.status == "ready":
            return doc
    raise ApiError(404, NOT_FOUND)


@router.get(
    "/{document_id}/pages/{page}",
    summary="A page as PNG, optionally with a chunk highlighted",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "The rendered page."}},
)
async def page_image(
    document_id: str = DocumentId,
    page: int = Path(ge=1, le=100_000, description="1-based page number"),
    width: int | None = Query(None, ge=MIN_WIDTH, le=10_000, description=f"Pixels; capped at {MAX_WIDTH}."),
    chunk_id: str | None = Query(None, max_length=300, description="Highlight this chunk (from sources)."),
    scope: str = Depends(page_scope),
    services: Services = Depends(get_services),
) -> Response:
    def render() -> bytes:
        _ready_document(services, document_id, scope)
        try:
            return services.pages.page_png(document_id, page, width, chunk_id, scope or None)
        except PageNotFound as exc:
            raise ApiError(404, NOT_FOUND) from exc

    png = await anyio.to_thread.run_sync(render)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/{document_id}/file",
    summary="The original PDF",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}, "description": "The PDF as uploaded."}},
)
async def document_file(
    document_id: str = DocumentId,
    scope: str = Depends(page_scope),
    services: Services = Depends(get_services),
) -> FileResponse:
    def find():
        doc = _ready_document(services, document_id, scope)
        try:
            return doc, services.pages.pdf_path(document_id)
        except PageNotFound as exc:
            raise ApiError(404, NOT_FOUND) from exc

    doc, path = await anyio.to_thread.run_sync(find)
    return FileResponse(path, media_type="application/pdf", filename=doc.filename,
                        content_disposition_type="inline")
