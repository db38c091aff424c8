"""The --from-db answer fine-tuning measurement (bench/finetune_answers.py) on a tiny CAsT file:
conversations stored through docchat's own storage, read back by ``python -m train --from-db``
(complete answers of one user only), trained a few steps with the bundled model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import finetune_answers
from bench.data import load_cast
from bench.harness import Bench, BenchOptions
from train.data import read_db_dialogues

TOPICS = {
    1: [("How do I bake sourdough bread?", "Feed the starter the evening before. Mix flour, water and salt, "
         "fold the dough four times and bake it at 240 degrees for forty minutes."),
        ("How long does it rise?", "The dough rises for four to six hours at room temperature, or overnight "
         "in the fridge for a more sour loaf."),
        ("What flour is best?", "Strong white bread flour with some wholemeal rye gives the starter more to eat.")],
    2: [("How do I fix a flat tyre?", "Find the puncture with soapy water, roughen the tube around it, apply "
         "the glue and press the patch on firmly."),
        ("How long should the glue dry?", "Let the glue dry for five minutes until it is no longer shiny before "
         "the patch goes on.")],
}


@pytest.fixture()
def eval_dir(tmp_path: Path) -> Path:
    dialogues = [{"number": number, "turn": [
        {"number": i + 1, "raw_utterance": q, "manual_rewritten_utterance": q, "passage": a}
        for i, (q, a) in enumerate(turns)]} for number, turns in TOPICS.items()]
    (tmp_path / "cast2021").mkdir()
    (tmp_path / "cast2021" / "dialogues.json").write_text(json.dumps(dialogues))
    return tmp_path


def test_stored_conversations_reach_training_without_partial_answers_or_other_users(eval_dir, tmp_path):
    ids = finetune_answers.store_conversations(tmp_path / "data", load_cast(eval_dir))
    dialogues = {d.id: d.messages for d in read_db_dialogues(tmp_path / "data", user=finetune_answers.USER)}
    assert set(dialogues) == set(ids.values())
    bread = dialogues[ids[1]]
    assert [m["content"] for m in bread if m["role"] == "user"] == [q for q, _ in TOPICS[1]]
    assert not any("Stop butt" in m["content"] or "canteen" in m["content"] for d in dialogues.values() for m in d)


def test_quick_run_trains_on_the_stored_answers_and_scores_the_held_out_topic(eval_dir):
    bench = Bench(BenchOptions(eval_dir=eval_dir, out_dir=eval_dir / "out", quick=True))
    try:
        result = finetune_answers.run(bench)
    finally:
        bench.close()
    assert result["train_topics"] == [1] and result["dev_topics"] == [2]
    assert result["train_examples"] == 1  # one stored conversation: the other user's is not read
    assert result["dev_examples"] == len(TOPICS[2])
    assert result["steps"] == finetune_answers.QUICK["steps"]
    assert result["loss_last"] < result["loss_first"]
    for side in ("dev_before", "dev_after"):
        assert set(result[side]) >= {"bleu", "chrf"}
