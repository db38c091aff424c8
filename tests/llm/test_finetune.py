"""``python -m llm.finetune`` and LoRA serving, with the real bundled SmolLM2.

A tiny run (a few steps on two short dialogues) must lower the loss, save an adapter
that loads onto the served model and changes its output; per-call adapter choice must
switch between adapter and base model in one loaded model. Bad input stops the command
before any model is loaded, naming the file and line.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from llm import finetune, finetune_data
from llm.adapters import SHIPPED_CONDENSE, AdapterError, refuse_remote, resolve_adapters
from llm.finetune_data import DataError, read_db_dialogues, read_messages_jsonl, read_rewrite_dialogues
from llm.model_paths import ModelChoice
from llm.types import GenerationParams

TRAIN = [
    {"role": "user", "content": "What is the secret word?"},
    {"role": "assistant", "content": "The secret word is pumpernickel."},
    {"role": "user", "content": "Say it again."},
    {"role": "assistant", "content": "Pumpernickel."},
]
DEV = [
    {"role": "user", "content": "Tell me the secret word."},
    {"role": "assistant", "content": "The secret word is pumpernickel."},
]
GREEDY = GenerationParams(max_new_tokens=12, temperature=0.0, repetition_penalty=1.0)


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


# --- bad input: file and line named, nothing loaded -------------------------------------------


def run_cli(capsys, *args: str) -> tuple[int, str]:
    code = finetune.main([*args, "--out", "/nonexistent/never-written"])
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
    [example] = finetune_data.condense_dialogues(data)
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


# --- encoding ---------------------------------------------------------------------------


def test_only_assistant_replies_are_learned(transformers_smollm2):
    tok = transformers_smollm2.tokenizer
    ids, labels = finetune.encode_dialogue(tok, TRAIN, 512)
    learned = tok.decode([i for i, label in zip(ids, labels) if label != finetune.IGNORE])
    assert "pumpernickel." in learned and "Pumpernickel." in learned
    assert "secret word?" not in learned and "Say it again" not in learned


# --- a tiny real run ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[dict, Path]:
    root = tmp_path_factory.mktemp("finetune")
    data = write_jsonl(root / "d.jsonl", [{"id": "t", "messages": TRAIN}, {"id": "d", "messages": DEV}])
    out = root / "adapter"
    args = finetune.parser().parse_args([
        "--data", str(data), "--out", str(out), "--dev-dialogues", "d", "--steps", "8", "--batch-size", "1",
        "--lr", "3e-3", "--max-eval", "1", "--eval-tokens", "12", "--device", "cpu", "--no-progress",
        "--model", "smollm2",
    ])
    return finetune.run(args), out


def test_tiny_run_lowers_the_loss_and_writes_the_adapter(tiny_run):
    info, out = tiny_run
    card = json.loads((out / "finetune.json").read_text())
    assert info["steps_done"] == 8 and len(card["losses"]) == 8
    assert info["loss_window"] == 2 and info["loss_last"] < 0.5 * info["loss_first"]
    for name in ("adapter_config.json", "adapter_model.safetensors", "loss.png", "README.md"):
        assert (out / name).is_file(), name
    assert card["dev_ids"] == ["d"] and "BLEU" in (out / "README.md").read_text()
    assert info["dev_after"]["chrf"] > info["dev_before"]["chrf"]


def test_adapter_loads_and_is_chosen_per_call(tiny_run):
    from llm.model_paths import bundled_chat_model
    from llm.transformers_backend import TransformersBackend

    _, out = tiny_run
    folder, gguf = bundled_chat_model()
    backend = TransformersBackend(folder, gguf_file=gguf, device="cpu", adapters={"condense": out})
    prompt = [{"role": "user", "content": DEV[0]["content"]}]
    tuned = backend.complete(prompt, replace(GREEDY, adapter="condense")).text
    base = backend.complete(prompt, GREEDY).text  # an answer: no answer adapter → base model
    assert "pumpernickel" in tuned.lower()
    assert "pumpernickel" not in base.lower()
    assert "LoRA condense: adapter" in backend.name


# --- settings → adapters -----------------------------------------------------------------


def test_shipped_condense_adapter_goes_with_the_bundled_model_only():
    from llm.model_paths import bundled_chat_model
    from settings import Settings

    folder, gguf = bundled_chat_model()
    bundled = ModelChoice(str(folder), gguf, "cpu", None, "test")
    other = ModelChoice("Qwen/Qwen2.5-3B-Instruct", None, "cuda", "bfloat16", "test")
    assert resolve_adapters(Settings(), bundled) == {"condense": SHIPPED_CONDENSE.resolve()}
    assert resolve_adapters(Settings(), other) == {}
    assert resolve_adapters(Settings(condense_adapter="none"), bundled) == {}


def test_bad_adapter_dir_is_a_clear_error(tmp_path):
    from settings import Settings

    choice = ModelChoice("x", None, "cpu", None, "test")
    with pytest.raises(AdapterError, match="is not a LoRA adapter directory"):
        resolve_adapters(Settings(adapter=str(tmp_path)), choice)


def test_remote_backend_refuses_adapters_and_points_to_vllm():
    from llm.factory import make_backend
    from settings import Settings

    with pytest.raises(AdapterError, match="--lora-modules"):
        make_backend(Settings(llm_base_url="http://127.0.0.1:9/v1", adapter="some/dir"))
    refuse_remote(Settings(llm_base_url="http://127.0.0.1:9/v1"))  # the 'auto' default is fine
