"""Measurement 2c: an answer adapter trained on the conversations docchat stored (``--from-db``).

Issue 14 asks for answer BLEU/chrF of a ``--from-db``-style run: what a user gets by
fine-tuning on their own chat history. The history is made the way the server makes
it — CAsT 2021 dialogues written through ``HistoryManager`` into a docchat data dir
(question = the raw utterance, answer = the opening of the canonical passage), with an
interrupted answer stored as ``partial`` and another user's conversation beside them —
and ``python -m train`` reads it back with ``--from-db DIR --user analyst``: the partial
answer and the other user's chat must not reach training. Train and dev are split by
conversation (the dev topics are the condense adapter's held-out ones); dev answers
are scored against the stored ones before and after training.
"""

from __future__ import annotations

from pathlib import Path

from bench.data import CastTurn, load_cast
from bench.harness import Bench

USER = "analyst"
ANSWER_WORDS = 40  # the opening of the canonical passage stands for the stored answer
DEV_TOPICS = (116, 117, 118)
FULL = {"steps": 60, "max_eval": 12}
QUICK = {"steps": 4, "max_eval": 2}


def answer_text(passage: str, words: int = ANSWER_WORDS) -> str:
    """The first ``words`` words of a passage, ending at a sentence end when one is near."""
    cut = " ".join(passage.split()[:words])
    end = cut.rfind(". ")
    return cut[: end + 1] if end > len(cut) // 2 else cut


def store_conversations(data_dir: Path, turns: list[CastTurn]) -> dict[int, str]:
    """Write each topic as one stored conversation of USER; returns topic → conversation id."""
    from storage.db import Database
    from storage.history import HistoryManager

    data_dir.mkdir(parents=True, exist_ok=True)
    ids: dict[int, str] = {}
    with Database(data_dir / "docchat.sqlite3") as db:
        history = HistoryManager(db)
        for turn in turns:
            if turn.topic not in ids:
                ids[turn.topic] = history.start_conversation(USER).id
            history.add_message(ids[turn.topic], "user", turn.raw)
            history.add_message(ids[turn.topic], "assistant", answer_text(turn.passage))
        # what --from-db must leave out: an interrupted answer and someone else's chat
        first = next(iter(ids.values()))
        history.add_message(first, "user", "And one more thing?")
        history.add_message(first, "assistant", "An answer cut off by the Stop butt", status="partial")
        other = history.start_conversation("someone-else").id
        history.add_message(other, "user", "What is on the canteen menu?")
        history.add_message(other, "assistant", "Soup.")
    return ids


def run(bench: Bench) -> dict:
    from train import cli

    size = QUICK if bench.options.quick else FULL
    turns = load_cast(bench.options.eval_dir, bench.options.cast_topics or (2 if bench.options.quick else None))
    topics = sorted({t.topic for t in turns})
    dev_topics = [t for t in topics if t in DEV_TOPICS] or topics[-1:]
    data_dir = bench.work_dir / "stored-conversations"
    ids = store_conversations(data_dir, turns)
    out = bench.work_dir / "answer-adapter"
    args = cli.parser().parse_args([
        "--from-db", str(data_dir), "--user", USER, "--out", str(out),
        "--dev-dialogues", ",".join(ids[t] for t in dev_topics),
        "--steps", str(size["steps"]), "--batch-size", "1", "--lr", "1e-3", "--top-layers", "10",
        "--max-length", "768", "--max-eval", str(size["max_eval"]), "--eval-tokens", "48",
        "--device", "cpu", "--no-progress",
    ])
    info = cli.run(args)
    train_topics = [t for t in topics if t not in dev_topics]
    return {
        "chat_model": info["base_model"],
        "train_topics": train_topics,
        "dev_topics": dev_topics,
        "train_examples": info["train_examples"],
        "dev_examples": info["dev_examples"],
        "steps": info["steps_done"],
        "train_seconds": info["train_seconds"],
        "loss_first": info["loss_first"],
        "loss_last": info["loss_last"],
        "dev_before": info["dev_before"],
        "dev_after": info["dev_after"],
        "samples": info["samples"][:3],
    }
