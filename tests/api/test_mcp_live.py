"""The MCP server (``--mcp``) driven by the official ``mcp`` Python client over HTTP.

A real ``python app.py --mcp`` on 127.0.0.1 with the bundled models, a PDF generated here
uploaded through the documents API, then the client lists the tools, searches and asks
like Claude Desktop or Cursor would. Who may reach the MCP server when logins are set is
test_mcp_access.py.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.api.mcp_client import TOOLS, mcp_calls
from tests.pdfs import make_pdf

PAGES = [
    "The lighthouse keeper logs the lamp hours every night in a blue notebook.",
    "Quarterly maintenance of the fog horn requires replacing the brass diaphragm.",
]


@pytest.fixture(scope="module")
def mcp_server(start_server, tmp_path_factory):
    server = start_server("--mcp", "--max-new-tokens", "24")
    pdf: Path = make_pdf(tmp_path_factory.mktemp("mcp") / "lighthouse.pdf", PAGES)
    response = httpx.post(f"{server.base_url}/api/documents", headers={"X-User-Id": "keeper"},
                          files=[("files", ("lighthouse.pdf", pdf.read_bytes(), "application/pdf"))], timeout=300)
    response.raise_for_status()
    assert response.json()["documents"][0]["status"] == "ready"
    return server


def test_mcp_lists_only_docchat_tools_and_searches_a_pdf(mcp_server):
    tools, (listed, found) = mcp_calls(
        mcp_server.base_url,
        [("list_documents", {}), ("search_documents", {"query": "brass diaphragm fog horn", "k": 1})],
        headers={"X-User-Id": "keeper"},
    )
    assert tools == TOOLS
    assert [d["filename"] for d in listed["documents"]] == ["lighthouse.pdf"]
    assert len(found["results"]) == 1
    hit = found["results"][0]
    assert hit["filename"] == "lighthouse.pdf" and hit["page"] == 2
    assert "diaphragm" in hit["text"] and hit["chunk_id"]


def test_mcp_ask_answers_with_sources_and_continues_the_conversation(mcp_server):
    keeper = {"X-User-Id": "keeper"}
    _, (first,) = mcp_calls(mcp_server.base_url,
                            [("ask", {"question": "Where does the keeper log the lamp hours?"})], keeper)
    assert first["answer"].strip() and first["conversation_id"]
    assert any(s["filename"] == "lighthouse.pdf" and s["page"] == 1 for s in first["sources"])
    conversations = httpx.get(f"{mcp_server.base_url}/api/conversations", headers=keeper).json()["conversations"]
    assert first["conversation_id"] in {c["id"] for c in conversations}

    _, (follow,) = mcp_calls(
        mcp_server.base_url,
        [("ask", {"question": "And how often?", "conversation_id": first["conversation_id"]})], keeper)
    assert follow["conversation_id"] == first["conversation_id"]
    messages = httpx.get(f"{mcp_server.base_url}/api/conversations/{follow['conversation_id']}/messages",
                         headers=keeper).json()["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]

    _, (fresh,) = mcp_calls(mcp_server.base_url, [("ask", {"question": "What is the fog horn?"})], keeper)
    assert fresh["conversation_id"] != first["conversation_id"]


def test_mcp_caller_sees_only_their_own_conversations(mcp_server):
    _, (answer,) = mcp_calls(mcp_server.base_url, [("ask", {"question": "What colour is the notebook?"})],
                             {"X-User-Id": "visitor"})
    keeper = httpx.get(f"{mcp_server.base_url}/api/conversations", headers={"X-User-Id": "keeper"}).json()
    assert answer["conversation_id"] not in {c["id"] for c in keeper["conversations"]}
