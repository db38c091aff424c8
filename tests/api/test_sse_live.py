"""Seed 002's /sse/subscribe on the real server (``python app.py``, the bundled models):
the README example streamed by the real model in seed 002's envelope, and a question
longer than the real model's window refused as one ``PROMPT_TOO_LONG`` event (issue 10,
item 6). Defaults and invalid requests are checked in-process in test_sse_routes.py.
"""

from __future__ import annotations

import httpx

from tests.api.conftest import ENVELOPE_KEYS, README_EXAMPLE, sse_json, subscribe


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


def test_seed002_question_too_long_is_flag_false(http: httpx.Client) -> None:
    response = http.post("/sse/subscribe", json={"messages": [{"question": "word " * 9000}], "response_length": 4})
    events = sse_json(response)
    assert len(events) == 1, events
    assert events[0]["flag"] is False and events[0]["errCode"] == "PROMPT_TOO_LONG", events[0]
