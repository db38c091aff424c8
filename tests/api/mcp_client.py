"""The official ``mcp`` Python client, as Claude Desktop or Cursor use it, for the MCP tests."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

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
