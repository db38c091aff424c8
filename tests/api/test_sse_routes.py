"""/sse/subscribe answers seed 002's request with seed 002's event envelope."""

from __future__ import annotations

import httpx
import pytest

from tests.api.conftest import sse_json

# The request example of seed 002's README, with a short answer.
README_EXAMPLE = {
    "messages": [{"question": "你好", "answer": "你好"}, {"question": "1+1=?", "answer": ""}],
    "top_p": 0.9,
    "top_k": 10,
    "response_length": 16,
    "temperature": 0.8,
}
ENVELOPE_KEYS = {"errCode", "errMessage", "exceptionMsg", "flag", "resData"}


def subscribe(http: httpx.Client, body: object) -> httpx.Response:
    if isinstance(body, str):
        return http.post("/sse/subscribe", content=body, headers={"Content-Type": "application/json"})
    return http.post("/sse/subscribe", json=body)


def test_readme_example_streams_events_with_flag_true(http: httpx.Client) -> None:
    response = subscribe(http, README_EXAMPLE)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_json(response)
    assert events
    for event in events:
        assert set(event) == ENVELOPE_KEYS
        assert event["flag"] is True
        assert event["errCode"] == "" and event["errMessage"] == ""
        assert isinstance(event["resData"]["message"], str)
        assert len(str(event["resData"]["time"])) == 13
    assert "".join(e["resData"]["message"] for e in events).strip()


def test_defaults_apply_when_only_messages_are_sent(http: httpx.Client) -> None:
    events = sse_json(subscribe(http, {"messages": [{"question": "Hi"}], "response_length": 8}))
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
def test_invalid_input_gives_one_flag_false_event_with_http_200(http: httpx.Client, change: dict, code: str) -> None:
    response = subscribe(http, {**README_EXAMPLE, **change})
    assert response.status_code == 200
    [event] = sse_json(response)
    assert set(event) == ENVELOPE_KEYS
    assert event["flag"] is False
    assert event["errCode"] == code
    assert event["errMessage"]
    assert len(str(event["resData"]["time"])) == 13


def test_malformed_json_is_a_flag_false_event(http: httpx.Client) -> None:
    response = subscribe(http, '{"messages": [')
    assert response.status_code == 200
    [event] = sse_json(response)
    assert (event["flag"], event["errCode"]) == (False, "INVALID_JSON")


def test_blank_last_question_is_rejected(http: httpx.Client) -> None:
    [event] = sse_json(subscribe(http, {"messages": [{"question": "   "}]}))
    assert (event["flag"], event["errCode"]) == (False, "INVALID_MESSAGES")
