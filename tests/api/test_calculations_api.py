"""The calculations an answer made, on every surface (DESIGN.md §5): /api/chat (reply and the
stream's last event), the stored messages, and the OpenAI route as text after the answer.
The fake model writes an open calculation and stops, as the real backend does at </calc>;
docchat evaluates it, checks its operands against the real indexed PDF, and asks the model
to go on from the result."""

from __future__ import annotations

import pytest

from tests.api.conftest import sse_json
from tests.pdfs import make_pdf

STATEMENT = ["Harbor Lamp Company. Consolidated Statements of Operations (in millions). "
             "Net sales 2023: 4,396. Net sales 2022: 3,921. Cost of sales 2023: 2,610."]
QUESTION = "By how much did Harbor Lamp's net sales grow in 2023?"


@pytest.fixture
def statement(client, tmp_path) -> None:
    pdf = make_pdf(tmp_path / "harbor.pdf", STATEMENT)
    client.post("/api/documents", files=[("files", ("harbor.pdf", pdf.read_bytes(), "application/pdf"))]).raise_for_status()


def calculating(fake, operand: str = "4,396") -> None:
    fake.enqueue(["Net sales grew ", f"<calc>({operand} - 3,921)", " / 3,921 * 100"])  # stopped at </calc>
    fake.enqueue(["% in 2023 [1]."])


def test_the_chat_reply_carries_the_checked_calculation(client, fake, statement):
    calculating(fake)
    reply = client.post("/api/chat", json={"query": QUESTION}).json()
    assert reply["text"] == "Net sales grew (4,396 - 3,921) / 3,921 * 100 = 12.11% in 2023 [1]."
    [calc] = reply["calculations"]
    assert calc["expression"] == "(4,396 - 3,921) / 3,921 * 100"
    assert calc["ok"] is True and calc["flag"] is None and round(calc["result"], 2) == 12.11
    assert {(o["value"], o["source"]) for o in calc["operands"]} == {(4396.0, 1), (3921.0, 1)}
    # the model was asked to go on from the result, with the answer so far
    assert fake.calls[-1].params.assistant_prefix.endswith("3,921 * 100</calc> = 12.11")
    stored = client.get(f"/api/conversations/{reply['conversation_id']}/messages").json()["messages"]
    assert stored[-1]["calculations"] == reply["calculations"]


def test_a_made_up_operand_comes_back_flagged(client, fake, statement):
    calculating(fake, operand="4,397")
    [calc] = client.post("/api/chat", json={"query": QUESTION}).json()["calculations"]
    assert calc["ok"] is False and calc["flag"] == "figure not found in the passages: 4,397"
    assert {(o["value"], o["source"]) for o in calc["operands"]} == {(4397.0, None), (3921.0, 1)}


def test_the_stream_ends_with_the_calculations(client, fake, statement):
    calculating(fake)
    events = sse_json(client.post("/api/chat", json={"query": QUESTION, "stream": True}))
    assert "".join(e.get("text", "") for e in events) == "Net sales grew (4,396 - 3,921) / 3,921 * 100 = 12.11% in 2023 [1]."
    assert "<calc>" not in "".join(e.get("text", "") for e in events)
    assert events[-1]["calculations"][0]["ok"] is True


def test_the_openai_route_writes_the_calculation_after_the_answer(client, fake, statement):
    calculating(fake)
    body = client.post("/v1/chat/completions", json={"model": "x", "use_rag": True,
                                                     "messages": [{"role": "user", "content": QUESTION}]}).json()
    content = body["choices"][0]["message"]["content"]
    assert content.startswith("Net sales grew (4,396 - 3,921) / 3,921 * 100 = 12.11% in 2023 [1].")
    assert "Calculations (done by docchat, not the model):\n- (4,396 - 3,921) / 3,921 * 100 = 12.11 — operands " \
           "checked against [1]" in content
    assert body["calculations"][0]["ok"] is True


def test_without_a_calculation_nothing_is_added(client, fake, statement):
    fake.enqueue(["Net sales were 4,396 million [1]."])
    reply = client.post("/api/chat", json={"query": "What were net sales in 2023?"}).json()
    assert reply["calculations"] == [] and reply["text"] == "Net sales were 4,396 million [1]."
