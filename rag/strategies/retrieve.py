"""Retrieve, then answer: the question's passages from the hybrid search, numbered in the
prompt; the model answers citing them."""

from __future__ import annotations

from rag.metric_definitions import line_items_in
from rag.prompting import format_context
from rag.pruning import prompt_passages
from rag.strategies.base import AnswerStrategy, Turn


class RetrieveThenAnswer(AnswerStrategy):
    name = "retrieve"
    keep_passages = 0  # the first n passages are sent whatever their scores (compute.py sets it)

    def find(self, turn: Turn) -> str | None:
        turn.sources = turn.retrieve()
        return None

    def context(self, turn: Turn) -> str:
        """With ``prune_passages`` (rag/pruning.py), each passage as far as it bears on the
        question — its sentences and table rows that name the question's words or the printed
        labels of the line items it names, with their header and scale line — and only the
        passages that score near the best, each file named once in a run of its pages. The
        passages not sent leave the turn's sources, so the answer is checked and shown against
        what the model read."""
        if not turn.settings.prune_passages or not turn.sources:
            return format_context(turn.sources)
        # the standalone question: a follow-up's own words ("and in 2022?") name too little
        labels = [label for item in line_items_in(turn.standalone) for label in (*item.labels, *item.labels_zh)]
        texts = prompt_passages(turn.standalone, turn.sources, extra_terms=labels, at_least=self.keep_passages)
        turn.sources = turn.sources[: len(texts)]
        return format_context(turn.sources, texts=texts, file_once=True)
