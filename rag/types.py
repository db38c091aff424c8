"""Domain types of the knowledge base and the turn: pages, chunks, sources, ingestion
results, a turn's request and result."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from errors import DocchatError
from llm.types import GenerationParams, Message, Usage

__all__ = ["DocchatError"]  # re-exported: rag code raises and catches it from here too


@dataclass(frozen=True)
class Page:
    number: int  # 1-based
    text: str


@dataclass(frozen=True)
class Chunk:
    """A piece of one document; ``page`` is where it starts, ``page_end`` where it ends."""

    id: str  # f"{document_id}:{page}:{index}" — stable, so re-ingesting is idempotent
    document_id: str
    filename: str
    page: int
    page_end: int
    index: int
    text: str  # the page's own words (table rows reformatted), nothing added
    # Document title, section and page heading, e.g. "3M 2022 10K | Item 8. Financial
    # Statements | CONSOLIDATED BALANCE SHEET": joined to ``text`` only for the dense
    # embedding and the keyword index, never shown or cited.
    context_prefix: str = ""
    # The statement or heading the chunk sits under (rag/page_roles.py): "Consolidated
    # Statements of Income", "Item 1A. Risk Factors"; '' when unknown (indexed before sections).
    section: str = ""


@dataclass
class Source:
    """A retrieved chunk as shown to users and API clients (DESIGN.md §5 search results)."""

    document_id: str
    filename: str
    page: int
    text: str
    score: float
    chunk_id: str = ""
    # Filled after generation (rag/citations.py): did the answer cite it with [n], and
    # are the sentences citing it backed by its text (None when uncited)?
    cited: bool = False
    supported: bool | None = None
    claims: list[dict[str, Any]] = field(default_factory=list)  # per cited sentence
    section: str | None = None  # the statement or heading its page sits under (rag/page_roles.py)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class IngestResult:
    """Outcome of adding one file; ``status`` is 'ready' | 'duplicate' | 'failed'."""

    id: str | None
    filename: str
    status: str
    pages: int = 0
    chunks: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class TurnRequest:
    """Everything one turn may override; services/requests.py fills it from a skin's fields
    (rag/turn.py answers it)."""

    user_id: str
    text: str
    conversation_id: str | None = None
    new_conversation: bool = False
    params: GenerationParams | None = None  # None: the settings' sampling
    use_rag: bool = True
    document_ids: list[str] | None = None
    k: int | None = None
    history: list[Message] | None = None  # replaces the stored history (seed 003)
    history_len: int = -1  # take that many stored messages; -1 = all that fit
    system_prompt: str | None = None
    prompt_name: str | None = None  # "default" | "rag" | "chat"
    history_token_budget: int | None = None
    persist: bool = True  # False for stateless calls (/v1/chat/completions)
    regenerate: bool = False  # replace the last answer of the conversation


@dataclass(frozen=True)
class SearchFocus:
    """Files the question names, and what the search did with them: ``only`` searched just
    those (a file name in the question), else searched them first (a name or period that
    matches them, rag/routing.py) with the rest still in the running."""

    filenames: tuple[str, ...]
    only: bool

    def note(self) -> str:
        """The English line the APIs carry in ``warnings`` (the UI words it per language)."""
        files = ", ".join(self.filenames)
        return (f"Searched only {files} (named in the question)." if self.only
                else f"Searched {files} first (named in the question).")


@dataclass
class TurnResult:
    text: str
    message_id: str | None
    conversation_id: str | None
    standalone_query: str
    sources: list[Source] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    finish_reason: str = "stop"
    prompt_tokens: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    focus: SearchFocus | None = None  # the files the question named (rag/turn.py)
    replaced: bool = False  # the model's answer was not in its passages: the abstention stands instead
    # What the answer computed (rag/calculator.py Calculation.to_dict, DESIGN.md §5): expression,
    # result, ok, flag, operands with the 1-based passage that prints each.
    calculations: list[dict[str, Any]] = field(default_factory=list)
    strategy: str = ""  # how the turn answered (rag/strategies/): chat, collection, retrieve, compute
    # Figures the answer states that no passage prints and no calculation gave (rag/figures.py):
    # the answer is flagged, or replaced by the abstention when such a figure is its only claim.
    unaccounted: list[str] = field(default_factory=list)
    model_text: str = ""  # the model's own answer when ``replaced`` or ``stated_by_code`` (kept in the details)
    # the model stated none of the calculations code prepared for the question: the answer is them
    stated_by_code: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "message_id": self.message_id,
            "conversation_id": self.conversation_id,
            "standalone_query": self.standalone_query,
            "sources": [s.to_dict() for s in self.sources],
            "finish_reason": self.finish_reason,
            "warnings": list(self.warnings),
            "calculations": list(self.calculations),
            "unaccounted_figures": list(self.unaccounted),
            "usage": {
                "prompt_tokens": self.usage.prompt_tokens,
                "completion_tokens": self.usage.completion_tokens,
                "total_tokens": self.usage.total_tokens,
            },
        }


# progress(stage, done, total): stage is e.g. "reading pages", "OCR", "embedding".
ProgressCallback = Callable[[str, int, int], None]


class UnreadablePDF(DocchatError):
    """The file is not a PDF we can read (broken, empty, not a PDF at all)."""


class PasswordProtectedPDF(UnreadablePDF):
    """The PDF needs a password we do not have."""


class NoTextLayer(UnreadablePDF):
    """A scanned PDF and no OCR engine installed."""


class EmbeddingModelMismatch(DocchatError):
    """The vector collection was built with another embedding model."""

    ui_key = "embedding_mismatch"


class EmptyQuestion(DocchatError, ValueError):
    """The question is empty (after stripping whitespace)."""

    ui_key = "empty_question"


class NothingToRegenerate(DocchatError, ValueError):
    """Regenerate was asked for a conversation without a question to answer again."""

    ui_key = "nothing_to_regenerate"
