"""Who may reach the MCP server (``--mcp``) when logins are set: the same credentials as the API.

The app with the UI and the MCP server mounted, as ``app.py --mcp --auth ...`` builds it,
served on a real socket in a thread (``serve_app`` of tests/api/conftest.py) so the
official ``mcp`` client can open its sessions; no model answers here. The tools answering
with the real model on the real server are test_mcp_live.py.
"""

from __future__ import annotations

import base64

import httpx
import pytest

from tests.api.mcp_client import TOOLS, mcp_calls


def test_mcp_needs_the_same_credentials_as_the_api_when_logins_are_set(serve_app):
    """With --auth, an MCP client without credentials gets 401 and nothing else; with the
    login it gets the tools, as that user."""
    base_url = serve_app(mcp=True, auth=["keeper:lamp-oil-42"])
    anonymous = httpx.post(f"{base_url}/gradio_api/mcp/", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
                           headers={"Accept": "application/json, text/event-stream"})
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"].startswith("Basic")
    with pytest.raises(BaseException) as refused:  # the client gives up on the 401
        mcp_calls(base_url, [("list_documents", {})])
    assert not isinstance(refused.value, AssertionError)
    wrong = {"Authorization": "Basic " + base64.b64encode(b"keeper:wrong").decode()}
    assert httpx.post(f"{base_url}/gradio_api/mcp/", json={}, headers=wrong).status_code == 401

    login = {"Authorization": "Basic " + base64.b64encode(b"keeper:lamp-oil-42").decode()}
    tools, (listed,) = mcp_calls(base_url, [("list_documents", {})], login)
    assert tools == TOOLS and listed == {"documents": []}
    impostor = {**login, "X-User-Id": "visitor"}
    assert httpx.post(f"{base_url}/gradio_api/mcp/", json={}, headers=impostor).status_code == 403
