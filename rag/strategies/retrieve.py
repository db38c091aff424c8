"""Retrieve, then answer: the question's passages from the hybrid search, numbered in the
prompt; the model answers citing them."""

from __future__ import annotations

from rag.strategies.base import AnswerStrategy, Turn


class RetrieveThenAnswer(AnswerStrategy):
    name = "retrieve"

    def find(self, turn: Turn) -> str | None:
        turn.sources = turn.retrieve()
        return None
