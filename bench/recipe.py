"""The LangChain recipe docchat is compared against (seed 004), run for real.

Seed 004: ``PyPDFLoader(path).load_and_split()`` → ``Chroma.from_documents(pages,
embedding=HuggingFaceEmbeddings(...))`` → ``ConversationalRetrievalChain.from_llm(llm,
retriever=db.as_retriever())`` (k = 4 by default). ``load_and_split()`` without a
splitter uses ``RecursiveCharacterTextSplitter()`` with the *library defaults*
(chunk_size=4000, chunk_overlap=200 characters) — that is what we run, not a tuned
splitter. The embeddings are the same bundled all-MiniLM-L6-v2 directory docchat uses,
so the comparison isolates chunking + retrieval.

The langchain packages are bench-only extras: they are imported inside the functions.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.data import GoldPage

log = logging.getLogger(__name__)

RECIPE_K = 4  # VectorStoreRetriever's default search_kwargs k


def recipe_embeddings(model_dir: str | Path) -> Any:
    """HuggingFaceEmbeddings exactly as seed 004 builds it, pointed at docchat's MiniLM dir."""
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=str(model_dir),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"normalize_embeddings": False},
    )


@dataclass
class RecipeIndexStats:
    pages: int
    chunks: int
    seconds: float


class RecipeIndex:
    """A Chroma collection filled by the recipe; ``search`` answers in gold-page terms."""

    def __init__(self, embeddings: Any, persist_dir: Path) -> None:
        self.embeddings = embeddings
        self.persist_dir = Path(persist_dir)
        self.db: Any = None

    def build(self, pdfs: list[Path]) -> RecipeIndexStats:
        """Load, split and embed every PDF the recipe's way; returns counts and wall time."""
        from langchain_chroma import Chroma
        from langchain_community.document_loaders import PyPDFLoader

        start = time.perf_counter()
        chunks = []
        pages = 0
        for pdf in pdfs:
            loader = PyPDFLoader(str(pdf))
            docs = loader.load_and_split()  # seed 004: default RecursiveCharacterTextSplitter()
            pages += len({d.metadata.get("page") for d in docs})
            chunks.extend(docs)
        self.db = Chroma.from_documents(
            chunks, embedding=self.embeddings, persist_directory=str(self.persist_dir)
        )
        stats = RecipeIndexStats(pages=pages, chunks=len(chunks), seconds=time.perf_counter() - start)
        log.info("recipe indexed %d pages / %d chunks in %.1fs", stats.pages, stats.chunks, stats.seconds)
        return stats

    def search(self, query: str, k: int = RECIPE_K) -> list[GoldPage]:
        """Top-k chunks as (file stem, 1-based page) — PyPDFLoader's ``page`` is 0-based."""
        docs = self.db.similarity_search(query, k=k)
        return [_gold_page(d.metadata) for d in docs]

    def retriever(self) -> Any:
        return self.db.as_retriever()  # default k=4, as in the recipe


def _gold_page(metadata: dict) -> GoldPage:
    return GoldPage(Path(metadata.get("source", "")).stem, int(metadata.get("page", 0)) + 1)


def langchain_chat_model(backend: Any, max_new_tokens: int = 48) -> Any:
    """Wrap a docchat ChatBackend as a LangChain chat model, so the recipe's chain runs on
    exactly the same weights and sampling (greedy) as docchat."""
    from langchain_core.language_models.chat_models import BaseChatModel
    from langchain_core.messages import AIMessage
    from langchain_core.outputs import ChatGeneration, ChatResult

    from llm.types import GenerationParams

    role_of = {"human": "user", "ai": "assistant", "system": "system"}
    params = GenerationParams(max_new_tokens=max_new_tokens, temperature=0.0, repetition_penalty=1.1)

    class DocchatBackendChat(BaseChatModel):
        @property
        def _llm_type(self) -> str:
            return "docchat-backend"

        def _generate(self, messages, stop=None, run_manager=None, **kwargs) -> ChatResult:
            chat = [{"role": role_of.get(m.type, "user"), "content": str(m.content)} for m in messages]
            completion = backend.complete(chat, params)
            return ChatResult(generations=[ChatGeneration(message=AIMessage(content=completion.text))])

    return DocchatBackendChat()


def conversational_chain(llm: Any, index: RecipeIndex) -> Any:
    """``ConversationalRetrievalChain.from_llm(llm, retriever=db.as_retriever())`` as in seed 004."""
    from langchain_classic.chains import ConversationalRetrievalChain

    return ConversationalRetrievalChain.from_llm(
        llm, retriever=index.retriever(), return_source_documents=True, return_generated_question=True
    )


def recipe_condense(chain: Any, question: str, history: list[tuple[str, str]]) -> str:
    """The recipe's own standalone question (its CONDENSE_QUESTION_PROMPT), without answering."""
    from langchain_classic.chains.conversational_retrieval.base import _get_chat_history

    if not history:
        return question
    return chain.question_generator.invoke(
        {"question": question, "chat_history": _get_chat_history(history)}
    )["text"].strip()


def source_pages(result: dict) -> list[GoldPage]:
    return [_gold_page(d.metadata) for d in result.get("source_documents", [])]
