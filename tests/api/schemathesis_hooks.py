"""Schemathesis hooks: one check beyond "no 5xx" — the question always reaches the model.

Generated requests go out untouched, answer lengths included: the real ranges of the
schema are where the bugs are (a ``max_tokens`` as large as the context window once
left no room for the question, which was then silently cut out of the prompt). The
server under test keeps the cost bounded instead (a small ``--max-new-tokens`` default
and a short ``--generation-timeout-s``).

``question_reaches_the_model``: a non-streaming ``/v1/chat/completions`` answered 200
must have sent at least the system prompt and the whole question to the model, however
large the requested answer. It re-asks the same system messages and last message with
``max_tokens: 1`` and compares ``usage.prompt_tokens``: the original may only be larger
(it can carry history), never smaller.
"""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis

COMPLETIONS = "/v1/chat/completions"


def minimal_request(body: dict[str, Any]) -> dict[str, Any] | None:
    """The same system messages and last message, with the smallest answer; None if not applicable."""
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages or not all(isinstance(m, dict) for m in messages):
        return None
    system = [m for m in messages[:-1] if m.get("role") in ("system", "developer")]
    return {"messages": [*system, messages[-1]], "max_tokens": 1, "temperature": 0}


@schemathesis.check
def question_reaches_the_model(ctx, response, case) -> bool | None:
    if case.operation.path != COMPLETIONS or response.status_code != 200:
        return None
    body = case.body
    if not isinstance(body, dict) or body.get("stream") is True or body.get("use_rag") is True:
        return None
    minimal = minimal_request(body)
    if minimal is None:
        return None
    sent = (response.json().get("usage") or {}).get("prompt_tokens")
    headers = {k: v for k, v in response.request.headers.items()
               if k.lower() in ("authorization", "x-user-id")}
    reference = httpx.post(response.request.url, json=minimal, headers=headers, timeout=120)
    if reference.status_code != 200:
        return None
    needed = reference.json()["usage"]["prompt_tokens"]
    if not isinstance(sent, int) or sent < needed:
        raise AssertionError(
            f"the prompt sent to the model had {sent} tokens, fewer than the {needed} of its system "
            f"prompt and question alone (max_tokens={body.get('max_tokens')!r}, "
            f"max_completion_tokens={body.get('max_completion_tokens')!r}): the question was cut out"
        )
    return True
