"""How a turn answers: one small interface, and the one place that chooses.

A question about the documents themselves is answered from the registry or the named
file's pages (collection), an ordinary question from retrieved passages (retrieve), and
with the calculator on, the answer to it may compute (compute); without documents or with
RAG off the model answers alone (chat). Each strategy is a file; a new way of answering
is a new file here and one line in ``choose``.
"""

from __future__ import annotations

from rag import collection
from rag.strategies.base import AnswerStrategy, ChatOnly, Turn
from rag.strategies.about_documents import CollectionStrategy
from rag.strategies.compute import ComputeStrategy
from rag.strategies.retrieve import RetrieveThenAnswer

__all__ = ["AnswerStrategy", "ChatOnly", "CollectionStrategy", "ComputeStrategy", "RetrieveThenAnswer", "choose"]


def choose(turn: Turn) -> AnswerStrategy:
    """The strategy for this turn: decided from the request, the settings and the question's
    wording alone (no model call)."""
    if not turn.wants_rag():
        return ChatOnly()
    asked = collection.classify(turn.question, turn.documents(), turn.req.document_ids)
    if asked is not None:
        return CollectionStrategy(asked)
    if turn.settings.calculator:
        return ComputeStrategy()
    return RetrieveThenAnswer()
