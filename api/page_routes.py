"""Page images and original PDFs: what the source viewer shows (DESIGN.md §5).

``GET /api/documents/{id}/pages/{page}`` renders a page as PNG (``?width=``, capped;
``?chunk_id=`` highlights that chunk's text); ``GET /api/documents/{id}/file`` serves
the PDF inline. Access follows the documents API: a document the caller cannot list is
404, exactly like one that does not exist. A link signed by the UI (services/page_links.py)
stands in for the headers a browser cannot send with an ``<img>``. An unknown page is
``PageNotFound`` (404) with the same message.
"""

from __future__ import annotations

import logging

import anyio
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from fastapi.responses import FileResponse

from api.auth import as_api_error
from api.deps import get_services
from api.errors import ERROR_RESPONSES
from services import Services
from services.access import AccessError
from services.documents import MAX_WIDTH, MIN_WIDTH

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/api/documents", tags=["documents"], responses=ERROR_RESPONSES)

DocumentId = Path(max_length=128, description="A document id from /api/documents")


def page_scope(
    request: Request,
    document_id: str = DocumentId,
    o: str | None = Query(None, max_length=200, description="Scope of a signed link (from the UI)."),
    exp: int | None = Query(None, ge=0, le=2**40, description="Expiry (Unix time) of a signed link."),
    sig: str | None = Query(None, max_length=128, description="Signature of a link handed out by the UI."),
) -> str | None:
    """The scope to look the document up in: a valid signed link's, else the caller's
    (services/access.py; 401/403 without the credentials this mode asks for, 404 for a bad link)."""
    try:
        return request.app.state.services.access.page_scope(document_id, request.headers, o, exp, sig)
    except AccessError as exc:
        raise as_api_error(exc) from None


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
    scope: str | None = Depends(page_scope),
    services: Services = Depends(get_services),
) -> Response:
    png = await anyio.to_thread.run_sync(services.documents.page_png, scope, document_id, page, width, chunk_id)
    return Response(png, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"})


@router.get(
    "/{document_id}/file",
    summary="The original PDF",
    response_class=FileResponse,
    responses={200: {"content": {"application/pdf": {}}, "description": "The PDF as uploaded."}},
)
async def document_file(
    document_id: str = DocumentId,
    scope: str | None = Depends(page_scope),
    services: Services = Depends(get_services),
) -> FileResponse:
    doc, path = await anyio.to_thread.run_sync(services.documents.pdf, scope, document_id)
    return FileResponse(path, media_type="application/pdf", filename=doc.filename,
                        content_disposition_type="inline")
