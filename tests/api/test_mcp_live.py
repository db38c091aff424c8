"""The MCP server (``--mcp``) driven by the official ``mcp`` Python client over HTTP.

A real ``python app.py --mcp`` on 127.0.0.1, a PDF generated here uploaded through the
documents API, then the client lists the tools, searches and asks like Claude Desktop
or Cursor would.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.pdfs import make_pdf

PAGES = [
    "The lighthouse keeper logs the lamp hours every night in a blue notebook.",
    "Quarterly maintenance of the fog horn requires replacing the brass diaphragm.",
]
TOOLS = {"list_documents", "search_documents", "ask"}


async def _session_call(url: str, headers: dict[str, str], calls: list[tuple[str, dict]]) -> tuple[set[str], list[Any]]:
    async with httpx.AsyncClient(headers=headers, timeout=300) as client, \
            streamable_http_client(url, http_client=client) as (read, write, _), \
            ClientSession(read, write) as session:
        await session.initialize()
        tools = {tool.name for tool in (await session.list_tools()).tools}
        results = []
        for name, args in calls:
            result = await session.call_tool(name, args)
            assert not result.isError, result
            results.append(json.loads(result.content[0].text))
        return tools, results


def mcp_calls(base_url: str, calls: list[tuple[str, dict]], headers: dict[str, str] | None = None):
    return asyncio.run(_session_call(f"{base_url}/gradio_api/mcp/", headers or {}, calls))


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


def test_mcp_needs_the_same_credentials_as_the_api_when_logins_are_set(start_server, tmp_path):
    """With --auth, an MCP client without credentials gets 401 and nothing else; with the
    login it gets the tools, as that user."""
    import base64

    server = start_server("--mcp", "--auth", "keeper:lamp-oil-42")
    anonymous = httpx.post(f"{server.base_url}/gradio_api/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                           headers={"Accept": "application/json, text/event-stream"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    with pytest.raises(BaseException) as refused:  # the client gives up on the 401
        mcp_calls(server.base_url, [("list_documents", {})])
    assert not isinstance(refused.value, AssertionError)
    wrong = {"Authorization": "Basic " + base64.b64encode(b"keeper:wrong").decode()}
    assert httpx.post(f"{server.base_url}/gradio_api/mcp/", json={}, headers=wrong).status_code == 401

    login = {"Authorization": "Basic " + base64.b64encode(b"keeper:lamp-oil-42").decode()}
    tools, (listed,) = mcp_calls(server.base_url, [("list_documents", {})], login)
    assert tools == TOOLS and listed == {"documents": []}
    impostor = {**login, "X-User-Id": "visitor"}
    assert httpx.post(f"{server.base_url}/gradio_api/mcp/", json={}, headers=impostor).status_code == 403
