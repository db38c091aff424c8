"""docchat's documents as Model Context Protocol tools (``--mcp``, DESIGN.md §6b).

Gradio 6 turns every ``gr.api`` endpoint of the Blocks into an MCP tool served at
``/gradio_api/mcp/`` (streamable HTTP) on the same port as the UI and the HTTP API.
The tools are thin skins over the same services as the API routes, and the caller is
identified by the same rule (``services.access``): an MCP client sends the same
``Authorization`` header an HTTP client would. ``McpAuthGuard`` answers 401 on the
MCP path itself when logins or keys are configured, so an anonymous client cannot even
list the tools; each tool checks the identity again from its own request.

The endpoints are registered with ``queue=False`` so Gradio calls them in-process with
the MCP request (headers included) instead of looping back over HTTP without them.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import gradio as gr
from starlette.types import ASGIApp, Receive, Scope, Send

from api.errors import error_response
from services.access import Access, AccessError, Caller

log = logging.getLogger(__name__)

MCP_PATH = "/gradio_api/mcp"
MAX_K = 20


def _caller(services: Any, request: gr.Request | None) -> Caller:
    """Who is calling, by the same rule as every API route (services/access.py); refuses the rest."""
    try:
        return services.access.caller(dict(request.headers) if request is not None else {})
    except AccessError as exc:
        raise gr.Error(exc.message) from None


class McpAuthGuard:
    """401 on the MCP path itself for a caller the access policy does not accept.

    Gradio mounts its MCP server outside its own login; without this an anonymous client
    could at least list the tools of a server that has logins or keys configured.
    """

    def __init__(self, app: ASGIApp, access: Access) -> None:
        self.app = app
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(MCP_PATH):
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
            try:
                self.access.caller(headers)
            except AccessError as exc:
                challenge = {"WWW-Authenticate": exc.challenge} if exc.challenge else None
                await error_response(exc.status, exc.message, headers=challenge)(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _json(payload: dict) -> str:
    """Tools answer JSON text: MCP clients and the models behind them parse it reliably."""
    return json.dumps(payload, ensure_ascii=False)


def hide_ui_endpoints(blocks: gr.Blocks) -> None:
    """Make every public endpoint but docchat's tools undocumented.

    Gradio offers each public endpoint as a tool, the UI's internal ones too (the
    session-state initialisers it attaches when the Blocks context closes); call this
    after the ``with gr.Blocks()`` block so clients see only docchat's tools.
    """
    for block_fn in blocks.fns.values():
        if block_fn.api_visibility == "public" and not getattr(block_fn.fn, "_docchat_tool", False):
            block_fn.api_visibility = "undocumented"


def register_mcp_tools(services: Any) -> None:
    """Declare the MCP tools inside the current ``gr.Blocks`` context."""

    def list_documents(request: gr.Request) -> str:
        """List the PDF documents this user can search, with their status, pages and chunks.

        Returns:
            {"documents": [{"id", "filename", "status", "pages", "chunks"}]}
        """
        caller = _caller(services, request)
        docs = services.documents.list(caller.user_id)
        return _json({
            "documents": [
                {"id": d.id, "filename": d.filename, "status": d.status, "pages": d.pages, "chunks": d.chunks}
                for d in docs
            ]
        })

    def search_documents(query: str, k: int = 5, document_ids: list[str] | None = None, expand: bool = False,
                         request: gr.Request = None) -> str:  # type: ignore[assignment]
        """Search the user's PDFs (hybrid keyword + semantic) and return the best passages.

        Args:
            query: What to look for, in English or Chinese.
            k: How many passages to return (1-20).
            document_ids: Only search these documents (ids from list_documents); all when empty.
            expand: Also search the chat model's phrasings of the query in the documents' words
                (one model call: slower, finds pages that word things differently).

        Returns:
            {"results": [{"document_id", "filename", "page", "text", "score", "chunk_id"}]}; page is 1-based.
        """
        caller = _caller(services, request)
        if not query or not query.strip():
            raise gr.Error("query must not be empty")
        k = max(1, min(int(k or 5), MAX_K))
        results = services.documents.search(caller.user_id, query.strip(), k, document_ids or None,
                                             bool(expand))
        return _json({"results": [s.to_dict() for s in results]})

    def ask(question: str, conversation_id: str | None = None,
            request: gr.Request = None) -> str:  # type: ignore[assignment]
        """Ask a question about the user's PDFs; the answer cites the pages it used.

        Args:
            question: The question, in English or Chinese. Follow-ups may refer to earlier turns.
            conversation_id: Continue this conversation (from an earlier ask); a new one when empty.

        Returns:
            {"answer", "sources": [{"document_id", "filename", "page", "text", "score", "chunk_id"}],
             "conversation_id", "standalone_query", "calculations": [{"expression", "result", "ok", "flag",
             "operands": [{"value", "source"}]}]}
        """
        caller = _caller(services, request)
        if not question or not question.strip():
            raise gr.Error("question must not be empty")
        result = services.chat.run(services.chat.request(
            caller.user_id, question.strip(), conversation_id=conversation_id or None,
            new_conversation=not conversation_id,
        ))
        return _json({
            "answer": result.text,
            "sources": [s.to_dict() for s in result.sources],
            "conversation_id": result.conversation_id,
            "standalone_query": result.standalone_query,
            "calculations": result.calculations,
        })

    for fn in (list_documents, search_documents, ask):
        fn._docchat_tool = True  # type: ignore[attr-defined]
        gr.api(fn, api_name=fn.__name__, queue=False)
