"""/sse/subscribe answers seed 002's request with seed 002's event envelope.

In-process (``app_client`` of tests/api/conftest.py: the real app, the fake chat model):
defaults and the one ``flag: false`` event of each invalid request. Seed 002's README
example answered by the real model over a real socket is test_sse_live.py.
"""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import ENVELOPE_KEYS, README_EXAMPLE, sse_json, subscribe


def test_defaults_apply_when_only_messages_are_sent(app_client: httpx.Client) -> None:
    events = sse_json(subscribe(app_client, {"messages": [{"question": "Hi"}], "response_length": 8}))
    assert events and all(e["flag"] for e in events)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"temperature": 1.5}, "INVALID_TEMPERATURE"),
        ({"temperature": -0.1}, "INVALID_TEMPERATURE"),
        ({"top_p": 1.01}, "INVALID_TOP_P"),
        ({"top_k": 11}, "INVALID_TOP_K"),
        ({"response_length": 8001}, "INVALID_RESPONSE_LENGTH"),
        ({"response_length": "long"}, "INVALID_RESPONSE_LENGTH"),
        ({"messages": []}, "INVALID_MESSAGES"),
        ({"messages": [{"answer": "no question"}]}, "INVALID_MESSAGES"),
        ({"messages": "你好"}, "INVALID_MESSAGES"),
    ],
)
def test_invalid_input_gives_one_flag_false_event_with_http_200(app_client: httpx.Client, change: dict, code: str) -> None:
    response = subscribe(app_client, {**README_EXAMPLE, **change})
    assert response.status_code == 200
    [event] = sse_json(response)
    assert set(event) == ENVELOPE_KEYS
    assert event["flag"] is False
    assert event["errCode"] == code
    assert event["errMessage"]
    assert len(str(event["resData"]["time"])) == 13


def test_malformed_json_is_a_flag_false_event(app_client: httpx.Client) -> None:
    response = subscribe(app_client, '{"messages": [')
    assert response.status_code == 200
    [event] = sse_json(response)
    assert (event["flag"], event["errCode"]) == (False, "INVALID_JSON")


def test_blank_last_question_is_rejected(app_client: httpx.Client) -> None:
    [event] = sse_json(subscribe(app_client, {"messages": [{"question": "   "}]}))
    assert (event["flag"], event["errCode"]) == (False, "INVALID_MESSAGES")
