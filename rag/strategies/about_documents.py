"""Questions about the documents themselves (rag/collection.py): the list and the
mentions are written without the model; a summary's passages are the named file's pages,
or its part summaries when they do not fit."""

from __future__ import annotations

import logging
from rag import collection
from rag.strategies.base import AnswerStrategy, Turn

log = logging.getLogger(__name__)

# Prompt tokens kept for the instructions, the question and its reminder when a file's
# pages are the passages of a summary.
SUMMARY_PROMPT_RESERVE = 700


class CollectionStrategy(AnswerStrategy):
    name = "collection"

    def __init__(self, asked: collection.CollectionQuestion) -> None:
        self.asked = asked

    def find(self, turn: Turn) -> str | None:
        asked, documents = self.asked, turn.documents()
        log.info("collection question: %s", asked)
        if asked.kind == "list":
            return collection.list_answer(documents, turn.question)
        if asked.kind == "mentions":
            found = turn.passages.search(asked.topic, k=collection.MENTION_CANDIDATES,
                                         document_ids=turn.req.document_ids, owner=turn.owner)
            answer = collection.mentions_answer(asked.topic, collection.mentioning(asked.topic, found), turn.question)
            turn.sources = answer.sources
            return answer.text
        chunks = turn.passages.document_chunks(asked.document_id, turn.owner)
        # what the pages may take of the prompt: the window less the answer, instructions and question
        budget = turn.llm.context_window - turn.params.max_new_tokens - SUMMARY_PROMPT_RESERVE
        turn.sources = collection.summary_sources(
            turn.llm, chunks, turn.question, budget,
            progress=lambda done, total: setattr(turn, "progress", (done, total)), cancelled=turn.cancel.is_set)
        return None
