"""Schemathesis hooks: keep generated chat requests short so a fuzz run finishes on a CPU.

The fuzz run looks for server errors on any input; how long the answers are does not
matter for that, and the bundled model would need minutes for the 5000-token default
of seed 002. Every number-like answer-length field is set to ``MAX_ANSWER_TOKENS`` (added
when missing); all other generated values, wrongly typed lengths included, go out untouched.
"""

from __future__ import annotations

from typing import Any

import schemathesis

MAX_ANSWER_TOKENS = 2
LENGTH_FIELDS = {
    "/api/chat": ("max_tokens",),
    "/sse/subscribe": ("response_length",),
    "/v1/chat/completions": ("max_tokens", "max_completion_tokens"),
}


def _numeric(value: Any) -> bool:
    """Anything pydantic's lax mode would read as a number (false → 0, "5000" → 5000)."""
    if value is None or isinstance(value, (bool, int, float)):
        return True
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def cap_answer_length(path: str, body: Any) -> Any:
    """Set every number-like answer length (absent, null, <= 0 and huge included) to the cap."""
    if not isinstance(body, dict):
        return body
    for name in LENGTH_FIELDS.get(path, ()):
        if _numeric(body.get(name)):
            body[name] = MAX_ANSWER_TOKENS
    return body


@schemathesis.hook
def before_call(context, case, kwargs) -> None:
    case.body = cap_answer_length(case.operation.path, case.body)
