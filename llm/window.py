"""Choose which earlier turns go into a prompt: the newest whole turns that fit a budget.

``fit_history`` is pure: it gets the token counter as a function, so it is tested with
the real tokenizer and never loads a model itself.

Layout of the messages it returns::

    system:    system prompt
    user/assistant pairs: the newest complete pairs that fit, oldest first
    user:      the context block (if any), a blank line, the question

What stays the same from turn to turn comes first (system prompt, kept history) and
this turn's retrieved context and question last, so a model server can reuse the KV
cache of the prefix (our transformers backend per conversation, vLLM's automatic
prefix caching). For the same reason old turns are dropped in blocks of
``DROP_BLOCK_TURNS``: the first kept turn moves only every few turns, not every turn.
The stored question stays exactly what the user typed; only the prompt carries context.

What gives way when the budget is tight, in this order: old turns (oldest first, whole
pairs only), then the context block (truncated), then the question (truncated). Each
truncation is logged.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Callable

from llm.types import Message, PromptTooLong

logger = logging.getLogger(__name__)

CountTokens = Callable[[list[Message]], int]
Truncate = Callable[[str, int], str]

# A short stand-in system message: the pair's cost is measured as the growth it causes,
# so chat templates that add a default system prompt when there is none are not counted twice.
_PROBE_SYSTEM: Message = {"role": "system", "content": "."}

# Old turns leave the window this many at a time (see the module docstring).
DROP_BLOCK_TURNS = 4


def block_aligned_limit(total_messages: int, wanted: int) -> int:
    """How many of the newest messages to load so the first one starts a drop block.

    A conversation longer than what is loaded is seen through a sliding window; were
    its start to move by one turn every turn, the block edges of ``fit_history`` would
    move with it and the kept history (the cached prefix) would change every turn. With
    the start on an absolute block edge it moves once every ``DROP_BLOCK_TURNS`` turns.
    """
    if total_messages <= wanted:
        return total_messages
    start = total_messages - wanted
    start -= start % (2 * DROP_BLOCK_TURNS)
    return total_messages - start


# The shortest answer worth generating: below it the question is refused as too long.
MIN_ANSWER_TOKENS = 16


@dataclass
class AnswerBudget:
    """How the context window is split between the prompt and the answer."""

    max_new_tokens: int  # what the model may write (the request's, or less when clamped)
    prompt_budget: int  # what the whole prompt may take
    requested: int  # what the caller asked for

    @property
    def clamped(self) -> bool:
        return self.max_new_tokens < self.requested

    def warning(self) -> str | None:
        if not self.clamped:
            return None
        return (f"max tokens lowered from {self.requested} to {self.max_new_tokens} so that the "
                "system prompt and the question fit the model's context window")


def answer_budget(
    context_window: int, requested: int, essential_tokens: int, min_answer: int = MIN_ANSWER_TOKENS
) -> AnswerBudget:
    """Split the window so the system prompt and the question always fit.

    ``essential_tokens`` is what the system prompt and the question cost as the chat
    template renders them (no context, no history). A larger answer budget than the
    window leaves is lowered to what is left — never the question cut to make room for
    an answer to a question nobody asked. When not even ``min_answer`` tokens are left,
    ``PromptTooLong`` says so.
    """
    room = context_window - essential_tokens
    if room < min_answer:
        raise PromptTooLong(
            f"The question and system prompt take {essential_tokens} tokens; the model's context window "
            f"of {context_window} leaves no room for an answer. Shorten the question."
        )
    max_new = max(1, min(requested, room))
    return AnswerBudget(max_new, context_window - max_new, requested)


@dataclass
class WindowResult:
    messages: list[Message]  # ready for the model: system, kept pairs, question
    kept_turns: int  # user/assistant pairs kept
    dropped_turns: int  # complete pairs left out (oldest first)
    prompt_tokens: int  # count_tokens(messages)
    truncated: list[str] = field(default_factory=list)  # "context" and/or "question" when cut


def system_message(system_prompt: str, context: str = "") -> Message:
    """A system message: the prompt, then (if given) a context block after a blank line."""
    content = f"{system_prompt}\n\n{context}" if context.strip() else system_prompt
    return {"role": "system", "content": content}


def question_message(context: str, question: str) -> Message:
    """The last user message: this turn's context block, a blank line, the question."""
    content = f"{context}\n\n{question}" if context.strip() else question
    return {"role": "user", "content": content}


def complete_pairs(turns: list[Message]) -> list[tuple[Message, Message]]:
    """(user, assistant) pairs in order; a dangling question, a lone or empty answer is skipped."""
    pairs: list[tuple[Message, Message]] = []
    i = 0
    while i < len(turns) - 1:
        user, answer = turns[i], turns[i + 1]
        if user.get("role") == "user" and answer.get("role") == "assistant":
            if answer.get("content", "").strip():
                pairs.append(({"role": "user", "content": user["content"]},
                              {"role": "assistant", "content": answer["content"]}))
            i += 2
        else:
            i += 1
    return pairs


def fit_history(
    system_prompt: str,
    context: str,
    turns: list[Message],
    question: str,
    count_tokens: CountTokens,
    budget: int,
    truncate: Truncate | None = None,
    history_budget: int | None = None,
) -> WindowResult:
    """Messages for the model whose ``count_tokens`` is at most ``budget``.

    ``budget`` is for the whole prompt (system + context + turns + question, as the
    chat template renders it): the caller keeps ``context_window - max_new_tokens``
    or less, so the answer has room. ``history_budget`` optionally caps the tokens
    spent on earlier turns. Each pair is counted once, so 200 turns cost 200 small
    counts plus a few whole-prompt counts.
    """
    system = system_message(system_prompt)
    user_question = question_message(context, question)
    truncated: list[str] = []

    fixed = count_tokens([system, user_question])
    if fixed > budget and truncate is not None:
        system, user_question, fixed = _shrink_fixed(
            system_prompt, context, question, count_tokens, budget, truncate, truncated
        )
    elif fixed > budget:
        logger.warning("prompt of %d tokens exceeds the budget of %d and no truncate function was given",
                       fixed, budget)

    pairs = complete_pairs(turns)
    room = budget - fixed
    if history_budget is not None:
        room = min(room, history_budget)
    kept = _newest_pairs_within(pairs, room, count_tokens)

    while True:
        messages = [system, *[m for pair in kept for m in pair], user_question]
        prompt_tokens = count_tokens(messages)
        if prompt_tokens <= budget or not kept:
            break
        kept = kept[1:]  # a template joined pieces differently than measured: drop the oldest

    dropped = len(pairs) - len(kept)
    if dropped:
        logger.debug("window kept %d of %d turns (%d tokens, budget %d)", len(kept), len(pairs),
                     prompt_tokens, budget)
    return WindowResult(messages, len(kept), dropped, prompt_tokens, truncated)


def _newest_pairs_within(
    pairs: list[tuple[Message, Message]], room: int, count_tokens: CountTokens
) -> list[tuple[Message, Message]]:
    """Walk back from the newest pair, adding whole pairs while their cost fits ``room``."""
    if room <= 0 or not pairs:
        return []
    base = count_tokens([_PROBE_SYSTEM])
    used = 0
    first_kept = len(pairs)
    for index in range(len(pairs) - 1, -1, -1):
        cost = count_tokens([_PROBE_SYSTEM, *pairs[index]]) - base
        if used + cost > room:
            break
        used += cost
        first_kept = index
    if 0 < first_kept < len(pairs):
        blocked = -(-first_kept // DROP_BLOCK_TURNS) * DROP_BLOCK_TURNS  # round up to a block edge
        if blocked < len(pairs):
            first_kept = blocked
    return pairs[first_kept:]


def _shrink_fixed(
    system_prompt: str,
    context: str,
    question: str,
    count_tokens: CountTokens,
    budget: int,
    truncate: Truncate,
    truncated: list[str],
) -> tuple[Message, Message, int]:
    """Cut the context block, then the question, until system + question fit ``budget``."""
    system = system_message(system_prompt)
    bare = count_tokens([system, question_message("", question)])
    if context.strip() and bare < budget:
        context, total = _cut_to_fit(
            context, budget - bare, budget, truncate,
            lambda text: count_tokens([system, question_message(text, question)]),
        )
        logger.warning("context block cut to fit the prompt budget of %d tokens", budget)
        truncated.append("context")
        return system, question_message(context, question), total

    if context.strip():
        logger.warning("context block dropped: the question alone fills the budget of %d tokens", budget)
        truncated.append("context")
    overhead = count_tokens([system, {"role": "user", "content": ""}])
    cut, total = _cut_to_fit(
        question, budget - overhead, budget, truncate,
        lambda text: count_tokens([system, {"role": "user", "content": text}]),
    )
    logger.warning("question of %d characters cut to %d to fit the prompt budget of %d tokens",
                   len(question), len(cut), budget)
    truncated.append("question")
    return system, {"role": "user", "content": cut}, total


def _cut_to_fit(
    text: str, room: int, budget: int, truncate: Truncate, measure: Callable[[str], int]
) -> tuple[str, int]:
    """Truncate ``text`` to ``room`` tokens, tightening while ``measure`` is over ``budget``
    (tokens can merge differently at the seam with the surrounding template)."""
    cut = truncate(text, max(room, 0))
    total = measure(cut)
    while total > budget and cut:
        room -= max(total - budget, 1)
        cut = truncate(text, max(room, 0))
        total = measure(cut)
    return cut, total
