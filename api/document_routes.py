"""Documents: upload (several PDFs, each succeeds or fails alone), list, delete, search.

A thin skin over ``services.documents``: indexing runs in a worker thread so the event
loop keeps serving other requests (and the UI) while a big PDF is embedded.
"""

from __future__ import annotations

import logging
from pathlib import PurePath

import anyio
from fastapi import APIRouter, Depends, File, Request, UploadFile

from api.auth import current_user, require_api_key
from api.deps import get_services
from api.errors import ERROR_RESPONSES, ApiError
from api.schemas import (
    DeletedResponse,
    DocumentInfo,
    DocumentList,
    SearchRequest,
    SearchResponse,
    SourceOut,
    UploadedDocument,
    UploadResponse,
)
from services import Services

logger = logging.getLogger(__name__)

MIB = 1024 * 1024

router = APIRouter(
    prefix="/api", tags=["documents"], dependencies=[Depends(require_api_key)], responses=ERROR_RESPONSES
)


def upload_limit_bytes(services: Services) -> int:
    return int(services.settings.max_upload_mb) * MIB


def _safe_filename(raw: str | None) -> str:
    """The name the user sees; never used as a path (files are stored by content hash)."""
    name = PurePath((raw or "").replace("\\", "/")).name.strip()
    return name[:255] or "upload.pdf"


@router.post("/documents", response_model=UploadResponse, summary="Upload and index PDFs")
async def upload_documents(
    request: Request,
    files: list[UploadFile] = File(..., description="One or more PDF files"),
    user: str = Depends(current_user),
    services: Services = Depends(get_services),
) -> UploadResponse:
    async with request.app.state.upload_gate.slot():  # 503 + Retry-After when too many index at once
        return await _upload(files, user, services)


async def _upload(files: list[UploadFile], user: str, services: Services) -> UploadResponse:
    limit = upload_limit_bytes(services)
    results: list[UploadedDocument] = []
    for upload in files:
        filename = _safe_filename(upload.filename)
        if upload.size is not None and upload.size > limit:
            raise ApiError(413, f"{filename} is larger than {limit // MIB} MiB.")
        data = await upload.read()
        if len(data) > limit:
            raise ApiError(413, f"{filename} is larger than {limit // MIB} MiB.")
        result = await anyio.to_thread.run_sync(services.documents.upload, user, data, filename)
        results.append(UploadedDocument.model_validate(result, from_attributes=True))
    return UploadResponse(documents=results)


@router.get("/documents", response_model=DocumentList, summary="List documents")
async def list_documents(
    user: str = Depends(current_user),
    services: Services = Depends(get_services),
) -> DocumentList:
    docs = await anyio.to_thread.run_sync(services.documents.list, user)
    return DocumentList(documents=[DocumentInfo.model_validate(d, from_attributes=True) for d in docs])


@router.delete("/documents/{document_id}", response_model=DeletedResponse, summary="Delete a document")
async def delete_document(
    document_id: str,
    user: str = Depends(current_user),
    services: Services = Depends(get_services),
) -> DeletedResponse:
    deleted = await anyio.to_thread.run_sync(services.documents.delete, user, document_id)
    if not deleted:
        raise ApiError(404, f"No document {document_id!r}.")
    return DeletedResponse(id=document_id)


@router.post("/search", response_model=SearchResponse, summary="Hybrid search over the documents")
async def search(
    body: SearchRequest,
    user: str = Depends(current_user),
    services: Services = Depends(get_services),
) -> SearchResponse:
    section = body.statement or body.section  # a statement is the strictest section filter
    sources = await anyio.to_thread.run_sync(services.documents.search, user, body.query, body.k, body.document_ids,
                                           body.expand, section)
    return SearchResponse(results=[source_out(s) for s in sources])


def source_out(source) -> SourceOut:
    """A ``rag.types.Source`` (or its stored dict form) as the API shows it."""
    get = source.get if isinstance(source, dict) else lambda key, default=None: getattr(source, key, default)
    return SourceOut(
        document_id=get("document_id", ""),
        filename=get("filename", ""),
        page=int(get("page", 0) or 0),
        text=get("text", ""),
        score=float(get("score", 0.0) or 0.0),
        chunk_id=get("chunk_id", "") or "",
        cited=bool(get("cited", False)),
        supported=get("supported", None),
        claims=list(get("claims", None) or []),
        section=get("section", None) or None,
    )
