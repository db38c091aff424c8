"""The history window: newest whole turns within a token budget, counted with the real tokenizer."""

from __future__ import annotations

import logging

import pytest

from llm.types import Message
from llm.window import DROP_BLOCK_TURNS, block_aligned_limit, complete_pairs, fit_history, system_message

SYSTEM = "You are docchat. Answer briefly."


def make_turns(n: int, user: str, assistant: str) -> list[Message]:
    turns: list[Message] = []
    for i in range(n):
        turns.append({"role": "user", "content": user.format(i=i)})
        turns.append({"role": "assistant", "content": assistant.format(i=i)})
    return turns


@pytest.fixture
def english_turns() -> list[Message]:
    return make_turns(30, "Question number {i}: what does page {i} say about tea?",
                      "Answer number {i}: page {i} says tea is grown on hills and picked by hand.")


@pytest.fixture
def chinese_turns() -> list[Message]:
    return make_turns(30, "第{i}个问题：汉服的历史是什么？", "第{i}个回答：汉服是汉族的传统服饰，历史悠久，形制多样。")


@pytest.fixture
def long_conversation() -> list[Message]:
    return make_turns(200, "Turn {i}: tell me more about chapter {i}.",
                      "Turn {i}: chapter {i} explains how the river changed the town over many years.")


def pairs_in(messages: list[Message]) -> list[tuple[str, str]]:
    middle = messages[1:-1]
    return [(middle[i]["content"], middle[i + 1]["content"]) for i in range(0, len(middle), 2)]


def test_window_respects_budget(bundled_backend, english_turns):
    result = fit_history(SYSTEM, "", english_turns, "And page 31?", bundled_backend.count_tokens, budget=300)

    assert result.prompt_tokens <= 300
    assert result.prompt_tokens == bundled_backend.count_tokens(result.messages)
    assert 0 < result.kept_turns < 30
    assert result.kept_turns + result.dropped_turns == 30


def test_window_keeps_newest_whole_turns(bundled_backend, english_turns):
    result = fit_history(SYSTEM, "", english_turns, "And page 31?", bundled_backend.count_tokens, budget=300)

    kept = pairs_in(result.messages)
    newest = [(u["content"], a["content"]) for u, a in complete_pairs(english_turns)][-result.kept_turns:]
    assert kept == newest
    assert [m["role"] for m in result.messages] == (
        ["system"] + ["user", "assistant"] * result.kept_turns + ["user"]
    )
    assert result.messages[-1] == {"role": "user", "content": "And page 31?"}


def test_window_fills_the_budget_to_within_one_block_of_turns(bundled_backend, english_turns):
    result = fit_history(SYSTEM, "", english_turns, "And page 31?", bundled_backend.count_tokens, budget=300)
    one_block_more = english_turns[-2 * (result.kept_turns + DROP_BLOCK_TURNS):]
    bigger = [system_message(SYSTEM, ""), *one_block_more, {"role": "user", "content": "And page 31?"}]

    assert bundled_backend.count_tokens(bigger) > 300


def test_window_drops_old_turns_in_blocks_so_the_prefix_stays_the_same(bundled_backend, long_conversation):
    """Turn after turn, the first kept turn moves only once per block: the prompt's prefix is stable."""
    firsts = []
    for n in range(60, 60 + 2 * DROP_BLOCK_TURNS):
        result = fit_history(SYSTEM, "", long_conversation[: 2 * n], "Next?", bundled_backend.count_tokens,
                             budget=1500)
        firsts.append(result.messages[1]["content"])
        assert result.prompt_tokens <= 1500

    assert len(set(firsts)) <= 3  # at most two block edges crossed in 2 blocks of turns
    assert all(f.startswith("Turn ") and int(f.split()[1].rstrip(":")) % DROP_BLOCK_TURNS == 0 for f in firsts)


def test_a_sliding_load_of_a_very_long_conversation_keeps_the_prefix_stable(bundled_backend, long_conversation):
    """Past what the pipeline loads, the loaded window's start moves in whole blocks too.

    Without the alignment the loaded list starts one turn later every turn, the block
    edges move with it, and the first kept turn changes on every turn.
    """
    wanted = 2 * 30  # the pipeline loads a fixed number of the newest messages
    firsts = []
    for n in range(70, 70 + 2 * DROP_BLOCK_TURNS):
        messages = long_conversation[: 2 * n]
        loaded = messages[-block_aligned_limit(len(messages), wanted):]
        assert len(loaded) >= wanted
        result = fit_history(SYSTEM, "", loaded, "Next?", bundled_backend.count_tokens, budget=1500)
        firsts.append(result.messages[1]["content"])

    assert len(set(firsts)) <= 3


def test_block_aligned_limit_starts_on_a_block_edge():
    block = 2 * DROP_BLOCK_TURNS
    assert block_aligned_limit(10, 40) == 10
    for total in range(41, 120):
        limit = block_aligned_limit(total, 40)
        assert 40 <= limit < 40 + block and (total - limit) % block == 0


def test_window_keeps_everything_when_it_fits(bundled_backend, english_turns):
    result = fit_history(SYSTEM, "", english_turns[:6], "Next?", bundled_backend.count_tokens, budget=4000)

    assert result.kept_turns == 3
    assert result.dropped_turns == 0
    assert result.messages[1:-1] == english_turns[:6]


def test_window_counts_chinese_with_the_real_tokenizer(bundled_backend, chinese_turns):
    question = "请根据上一个问题的回答写一个营销策划"
    result = fit_history(SYSTEM, "", chinese_turns, question, bundled_backend.count_tokens, budget=400)

    assert result.prompt_tokens <= 400
    assert 0 < result.kept_turns < 30
    assert pairs_in(result.messages)[-1] == (chinese_turns[-2]["content"], chinese_turns[-1]["content"])
    assert result.messages[-1]["content"] == question


def test_window_skips_a_dangling_question_without_answer(bundled_backend, english_turns):
    turns = english_turns[:4] + [{"role": "user", "content": "unanswered question"}]
    result = fit_history(SYSTEM, "", turns, "Next?", bundled_backend.count_tokens, budget=4000)

    assert result.kept_turns == 2
    assert all(m["content"] != "unanswered question" for m in result.messages)


def test_window_puts_the_context_with_the_question_after_the_history(bundled_backend, english_turns):
    context = "[1] tea.pdf p.3: Tea grows on hills."
    result = fit_history(SYSTEM, context, english_turns[:2], "Where?", bundled_backend.count_tokens, budget=4000)

    assert result.messages[0] == {"role": "system", "content": SYSTEM}
    assert result.messages[1:3] == english_turns[:2]
    assert result.messages[-1] == {"role": "user", "content": f"{context}\n\nWhere?"}


def test_window_history_budget_caps_turns(bundled_backend, english_turns):
    result = fit_history(SYSTEM, "", english_turns, "Next?", bundled_backend.count_tokens,
                         budget=4000, history_budget=120)
    history_tokens = result.prompt_tokens - bundled_backend.count_tokens(
        [result.messages[0], result.messages[-1]])

    assert 0 < result.kept_turns < 30
    assert history_tokens <= 120


def test_window_handles_200_turns_counting_each_pair_once(bundled_backend, long_conversation):
    calls: list[int] = []

    def counting(messages: list[Message]) -> int:
        calls.append(len(messages))
        return bundled_backend.count_tokens(messages)

    result = fit_history(SYSTEM, "", long_conversation, "Last question?", counting, budget=1500)

    assert result.prompt_tokens <= 1500
    assert result.kept_turns + result.dropped_turns == 200
    assert pairs_in(result.messages)[-1][0] == "Turn 199: tell me more about chapter 199."
    assert len(calls) <= result.kept_turns + 6  # one count per kept pair plus a few whole-prompt counts
    assert max(calls) <= 2 * result.kept_turns + 2


def test_window_truncates_a_question_longer_than_the_budget(bundled_backend, english_turns, caplog):
    question = "Please summarise this paragraph about tea. " * 200
    with caplog.at_level(logging.WARNING, logger="llm.window"):
        result = fit_history(SYSTEM, "", english_turns, question, bundled_backend.count_tokens,
                             budget=200, truncate=bundled_backend.truncate_text)

    asked = result.messages[-1]["content"]
    assert result.prompt_tokens <= 200
    assert result.kept_turns == 0
    assert 0 < len(asked) < len(question) and question.startswith(asked)
    assert "question" in result.truncated
    assert any("question" in r.getMessage() and "cut" in r.getMessage() for r in caplog.records)


def test_window_cuts_context_before_question(bundled_backend):
    context = "第一段：茶叶生长在山坡上，由人工采摘。" * 100
    question = "茶叶在哪里生长？"
    result = fit_history(SYSTEM, context, [], question, bundled_backend.count_tokens,
                         budget=150, truncate=bundled_backend.truncate_text)

    asked = result.messages[-1]["content"]
    assert result.prompt_tokens <= 150
    assert asked.endswith("\n\n" + question)
    assert result.truncated == ["context"]
    assert result.messages[0]["content"] == SYSTEM
    assert 0 < len(asked) - len(question) - 2 < len(context)
    assert context.startswith(asked[: -len(question) - 2])


def test_complete_pairs_ignores_empty_answers_and_lone_messages():
    turns: list[Message] = [
        {"role": "assistant", "content": "greeting"},
        {"role": "user", "content": "q1"},
        {"role": "assistant", "content": "a1"},
        {"role": "user", "content": "q2"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "q3"},
    ]

    assert complete_pairs(turns) == [({"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"})]
