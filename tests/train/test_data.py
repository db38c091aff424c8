"""What ``python -m train`` reads: dialogues from JSONL, stored conversations and CAsT rewrites.

Bad input stops the command before any model is loaded, naming the file and line.
"""

from __future__ import annotations

import json

import pytest

from tests.train.dialogues import DEV, write_jsonl
from train import cli
from train.data import DataError, condense_dialogues, read_db_dialogues, read_rewrite_dialogues


# --- bad input: file and line named, nothing loaded -------------------------------------------


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = cli.main([*args, "--out", "/nonexistent/never-written"])
    return code, capsys.readouterr().err


def test_empty_file_is_refused_with_its_name(tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    code, err = run_cli(capsys, "--data", str(empty))
    assert code == 2 and f"{empty}: the file is empty" in err


def test_malformed_json_line_is_named(tmp_path, capsys):
    data = write_jsonl(tmp_path / "d.jsonl", [{"messages": DEV}, '{"messages": [oops'])
    code, err = run_cli(capsys, "--data", str(data))
    assert code == 2 and f"{data}, line 2: not valid JSON" in err


def test_dialogue_without_assistant_turn_is_named(tmp_path, capsys):
    data = write_jsonl(tmp_path / "d.jsonl", [{"messages": DEV}, "", {"messages": [{"role": "user", "content": "hi"}]}])
    code, err = run_cli(capsys, "--data", str(data))
    assert code == 2 and f"{data}, line 3: the dialogue has no assistant turn" in err


def test_missing_rewrite_field_is_named(tmp_path, capsys):
    good = {"number": 1, "turn": [{"number": 1, "raw_utterance": "a", "manual_rewritten_utterance": "a", "passage": "p"}]}
    bad = {"number": 2, "turn": [{"number": 1, "raw_utterance": "b", "passage": "p"}]}
    data = tmp_path / "cast.json"
    data.write_text("[\n" + json.dumps(good) + ",\n" + json.dumps(bad) + "\n]\n")
    code, err = run_cli(capsys, "--task", "condense", "--dialogues", str(data))
    assert code == 2
    assert f"{data}, line 3: dialogue 2, turn 1: no 'manual_rewritten_utterance'" in err


def test_malformed_json_in_a_dialogue_file_names_the_line(tmp_path):
    data = tmp_path / "cast.json"
    data.write_text('[\n {"number": 1,\n  "turn": [}\n]\n')
    with pytest.raises(DataError, match=r"cast\.json, line 3: not valid JSON"):
        read_rewrite_dialogues(data)


def test_rewrite_examples_are_followups_with_history(tmp_path):
    turns = [
        {"number": 1, "raw_utterance": "Tell me about BM25.", "manual_rewritten_utterance": "Tell me about BM25.",
         "passage": "BM25 is a ranking function."},
        {"number": 2, "raw_utterance": "Who made it?", "manual_rewritten_utterance": "Who made BM25?",
         "passage": "Robertson and Sparck Jones."},
    ]
    data = tmp_path / "cast.json"
    data.write_text(json.dumps([{"number": 7, "turn": turns}], indent=1))
    [[first]] = read_rewrite_dialogues(data)
    assert (first.dialogue, first.number, first.question, first.rewrite) == ("7", 2, "Who made it?", "Who made BM25?")
    assert first.history == [{"role": "user", "content": "Tell me about BM25."},
                             {"role": "assistant", "content": "BM25 is a ranking function."}]
    [example] = condense_dialogues(data)
    assert example.messages[-1] == {"role": "assistant", "content": "Who made BM25?"}
    assert "Follow-up question: Who made it?" in example.messages[-2]["content"]


# --- stored conversations -------------------------------------------------------------


def test_from_db_keeps_complete_answers_and_filters_by_user(tmp_path):
    from storage.db import Database
    from storage.history import HistoryManager

    db = Database(tmp_path / "docchat.sqlite3")
    history = HistoryManager(db)
    a = history.start_conversation("alice")
    history.add_message(a.id, "user", "Q1")
    history.add_message(a.id, "assistant", "A1")
    history.add_message(a.id, "user", "Q2 interrupted")
    history.add_message(a.id, "assistant", "A2 cut sh", status="partial")
    history.add_message(a.id, "user", "Q3")
    history.add_message(a.id, "assistant", "A3")
    b = history.start_conversation("bob")
    history.add_message(b.id, "user", "bob asks")
    history.add_message(b.id, "assistant", "bob hears")
    db.close()

    alice = read_db_dialogues(tmp_path, user="alice")
    assert [[m["content"] for m in d.messages] for d in alice] == [["Q1", "A1", "Q3", "A3"]]
    assert len(read_db_dialogues(tmp_path)) == 2
    with pytest.raises(DataError, match="no conversation of user 'carol'"):
        read_db_dialogues(tmp_path, user="carol")


