"""LoRA training and serving with the real bundled SmolLM2.

A tiny run (a few steps on two short dialogues) must lower the loss, save an adapter
that loads onto the served model and changes its output; per-call adapter choice must
switch between adapter and base model in one loaded model.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from llm.types import GenerationParams
from tests.train.dialogues import DEV, TRAIN, write_jsonl
from train import cli, lora

GREEDY = GenerationParams(max_new_tokens=12, temperature=0.0, repetition_penalty=1.0)


# --- encoding ---------------------------------------------------------------------------


def test_only_assistant_replies_are_learned(transformers_smollm2):
    tok = transformers_smollm2.tokenizer
    ids, labels = lora.encode_dialogue(tok, TRAIN, 512)
    learned = tok.decode([i for i, label in zip(ids, labels) if label != lora.IGNORE])
    assert "pumpernickel." in learned and "Pumpernickel." in learned
    assert "secret word?" not in learned and "Say it again" not in learned


# --- a tiny real run ----------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[dict, Path]:
    root = tmp_path_factory.mktemp("finetune")
    data = write_jsonl(root / "d.jsonl", [{"id": "t", "messages": TRAIN}, {"id": "d", "messages": DEV}])
    out = root / "adapter"
    args = cli.parser().parse_args([
        "--data", str(data), "--out", str(out), "--dev-dialogues", "d", "--steps", "8", "--batch-size", "1",
        "--lr", "3e-3", "--max-eval", "1", "--eval-tokens", "12", "--device", "cpu", "--no-progress",
        "--model", "smollm2",
    ])
    return cli.run(args), out


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
