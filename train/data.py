"""Training examples for ``python -m train``, read and checked before any training.

Three sources, one shape: a ``Dialogue`` (an id to split train/dev by, and chat
``messages``; the assistant messages are what the model learns to say).

* a JSONL file of ``{"messages": [{"role", "content"}, ...]}``, one dialogue a line;
* ``--from-db DATA_DIR``: docchat's own stored conversations, complete answers only;
* ``--task condense``: CAsT-style dialogues with gold rewrites, turned into the exact
  condense prompt docchat sends at run time (``rag.condense.build_condense_messages``)
  with the manual rewrite as the answer.

Bad input stops everything with a ``DataError`` that names the file and line: a
half-read training set would train on something other than what the user meant.
"""

from __future__ import annotations

import json
import random
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from llm.types import Message

ROLES = ("system", "user", "assistant")


class DataError(ValueError):
    """Unusable training input; the message names the file and line."""

    def __init__(self, path: Path | str, line: int | None, problem: str) -> None:
        where = f"{path}, line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {problem}")
        self.path = str(path)
        self.line = line


@dataclass
class Dialogue:
    """One conversation; every assistant message in it is a training target."""

    id: str
    messages: list[Message]


def _check_messages(messages: Any, path: Path, line: int) -> list[Message]:
    if not isinstance(messages, list) or not messages:
        raise DataError(path, line, "'messages' must be a non-empty list of {role, content}")
    checked: list[Message] = []
    for n, m in enumerate(messages, 1):
        if not isinstance(m, dict) or m.get("role") not in ROLES or not isinstance(m.get("content"), str):
            raise DataError(path, line, f"message {n} needs a role in {ROLES} and a string content")
        checked.append({"role": m["role"], "content": m["content"]})
    if not any(m["role"] == "assistant" and m["content"].strip() for m in checked):
        raise DataError(path, line, "the dialogue has no assistant turn to learn from")
    return checked


def read_messages_jsonl(path: Path | str) -> list[Dialogue]:
    """Dialogues of a messages-format JSONL file (blank lines are skipped)."""
    path = Path(path)
    text = _read_text(path)
    dialogues: list[Dialogue] = []
    for line_no, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(path, line_no, f"not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "messages" not in row:
            raise DataError(path, line_no, "expected an object with a 'messages' list")
        messages = _check_messages(row["messages"], path, line_no)
        dialogues.append(Dialogue(str(row.get("id", f"line{line_no}")), messages))
    if not dialogues:
        raise DataError(path, None, "the file has no dialogues")
    return dialogues


def read_db_dialogues(data_dir: Path | str, user: str | None = None) -> list[Dialogue]:
    """Stored docchat conversations: a partial (interrupted) answer drops with its question;
    regenerated-away answers are already gone from the database."""
    db_path = Path(data_dir) / "docchat.sqlite3"
    if not db_path.is_file():
        raise DataError(db_path, None, "no docchat database here (is DATA_DIR the server's --data-dir?)")
    conn = sqlite3.connect(f"file:{db_path}?mode=ro", uri=True)
    try:
        sql = ("SELECT c.id AS cid, c.user_id, m.role, m.content, m.status FROM messages m "
               "JOIN conversations c ON c.id = m.conversation_id")
        params: tuple = ()
        if user is not None:
            sql += " WHERE c.user_id = ?"
            params = (user,)
        rows = conn.execute(sql + " ORDER BY c.created_at, c.id, m.seq", params).fetchall()
    except sqlite3.DatabaseError as exc:
        raise DataError(db_path, None, f"cannot read conversations ({exc})") from None
    finally:
        conn.close()
    by_conversation: dict[str, list[Message]] = {}
    for cid, _user, role, content, status in rows:
        messages = by_conversation.setdefault(cid, [])
        if role == "assistant" and status != "complete":
            if messages and messages[-1]["role"] == "user":
                messages.pop()  # the question of an interrupted answer goes with it
            continue
        if role == "user" and messages and messages[-1]["role"] == "user":
            messages.pop()  # a question whose answer was never stored
        messages.append({"role": role, "content": content})
    dialogues = []
    for cid, messages in by_conversation.items():
        while messages and messages[-1]["role"] != "assistant":
            messages.pop()
        if any(m["role"] == "assistant" for m in messages):
            dialogues.append(Dialogue(cid, messages))
    if not dialogues:
        who = f" of user {user!r}" if user is not None else ""
        raise DataError(db_path, None, f"no conversation{who} with a complete answer")
    return dialogues


@dataclass
class RewriteTurn:
    """One follow-up of a dialogue with gold rewrites (CAsT): history, question, rewrite."""

    dialogue: str
    number: int
    history: list[Message]
    question: str
    rewrite: str


def read_rewrite_dialogues(path: Path | str) -> list[list[RewriteTurn]]:
    """Follow-up turns per dialogue from a CAsT-format file (a JSON list, or JSONL with one
    dialogue a line). The history is the earlier raw utterances with their passages (or
    ``response``/``answer``) as the assistant's replies, as in bench/conversational.py."""
    path = Path(path)
    text = _read_text(path)
    dialogues: list[list[RewriteTurn]] = []
    for line_no, dialogue in _json_items(text, path):
        if not isinstance(dialogue, dict) or not isinstance(dialogue.get("turn"), list):
            raise DataError(path, line_no, "expected a dialogue object with a 'turn' list")
        name = str(dialogue.get("number", line_no))
        history: list[Message] = []
        turns: list[RewriteTurn] = []
        for n, turn in enumerate(dialogue["turn"], 1):
            where = f"dialogue {name}, turn {turn.get('number', n) if isinstance(turn, dict) else n}"
            if not isinstance(turn, dict) or not isinstance(turn.get("raw_utterance"), str):
                raise DataError(path, line_no, f"{where}: no 'raw_utterance' text")
            rewrite = turn.get("manual_rewritten_utterance")
            if not isinstance(rewrite, str) or not rewrite.strip():
                raise DataError(path, line_no, f"{where}: no 'manual_rewritten_utterance' (gold rewrite)")
            reply = next((turn[k] for k in ("passage", "response", "answer") if isinstance(turn.get(k), str)), None)
            if reply is None:
                raise DataError(path, line_no, f"{where}: no 'passage' (the assistant's reply)")
            if history:
                turns.append(RewriteTurn(name, int(turn.get("number", n)), list(history),
                                         turn["raw_utterance"], rewrite))
            history += [{"role": "user", "content": turn["raw_utterance"]},
                        {"role": "assistant", "content": reply}]
        dialogues.append(turns)
    if not dialogues:
        raise DataError(path, None, "the file has no dialogues")
    return dialogues


def condense_dialogues(path: Path | str) -> list[Dialogue]:
    """One training example per follow-up: docchat's condense prompt → the gold rewrite."""
    from rag.condense import build_condense_messages

    out: list[Dialogue] = []
    for turns in read_rewrite_dialogues(path):
        for t in turns:
            prompt = build_condense_messages(t.history, t.question)
            out.append(Dialogue(t.dialogue, [*prompt, {"role": "assistant", "content": t.rewrite}]))
    if not out:
        raise DataError(path, None, "no follow-up turn (a dialogue needs at least two turns)")
    return out


def split_by_dialogue(dialogues: list[Dialogue], dev_ids: list[str] | None, dev_fraction: float,
                      seed: int) -> tuple[list[Dialogue], list[Dialogue]]:
    """Train and dev sets that never share a dialogue (so dev measures unseen conversations).

    ``dev_ids`` names the dev dialogues; otherwise a seeded ``dev_fraction`` of them.
    """
    ids = list(dict.fromkeys(d.id for d in dialogues))
    if dev_ids:
        unknown = set(dev_ids) - set(ids)
        if unknown:
            raise ValueError(f"--dev-dialogues names unknown dialogues: {sorted(unknown)}")
        dev = set(dev_ids)
    else:
        shuffled = ids[:]
        random.Random(seed).shuffle(shuffled)
        n_dev = round(len(ids) * dev_fraction) if len(ids) > 1 else 0
        dev = set(shuffled[: max(1, n_dev)] if dev_fraction > 0 and len(ids) > 1 else [])
    return [d for d in dialogues if d.id not in dev], [d for d in dialogues if d.id in dev]


def _read_text(path: Path) -> str:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(path, None, "no such file") from None
    except UnicodeDecodeError:
        raise DataError(path, None, "not UTF-8 text") from None
    if not text.strip():
        raise DataError(path, None, "the file is empty")
    return text


def _json_items(text: str, path: Path) -> list[tuple[int, Any]]:
    """(line, item) for each element of a top-level JSON list, or each line of JSONL."""
    decoder = json.JSONDecoder()
    stripped = text.lstrip()
    if not stripped.startswith("["):
        items = []
        for line_no, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    items.append((line_no, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise DataError(path, line_no, f"not valid JSON ({exc.msg})") from None
        return items
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(path, exc.lineno, f"not valid JSON ({exc.msg})") from None
    items = []
    pos = text.index("[") + 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text) or text[pos] == "]":
            return items
        item, end = decoder.raw_decode(text, pos)
        items.append((text.count("\n", 0, pos) + 1, item))
        pos = end
