"""Request and response bodies of the docchat API (/api/...), DESIGN.md §5.

Requests ignore unknown fields (clients written for Langchain-Chatchat send more than
seed 003's list) but validate every field they do use: a wrong type, an empty query or
an out-of-range number is a 422 with the API's error shape, never a 500.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_QUERY_CHARS = 32_000
MAX_DOCUMENT_IDS = 1_000
MAX_HISTORY_MESSAGES = 1_000


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty")
    return value


class ApiRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")


# --- documents -------------------------------------------------------------------------


class UploadedDocument(BaseModel):
    """Outcome of one uploaded file: a bad file fails alone with ``error`` set."""

    id: str | None
    filename: str
    status: Literal["ready", "duplicate", "failed"]
    pages: int = 0
    chunks: int = 0
    error: str | None = None


class UploadResponse(BaseModel):
    documents: list[UploadedDocument]


class DocumentInfo(BaseModel):
    id: str
    filename: str
    status: str = Field(description="'indexing' | 'ready' | 'failed'")
    pages: int
    chunks: int
    created_at: str
    error: str | None = None


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


class DeletedResponse(BaseModel):
    id: str
    deleted: bool = True


class Claim(BaseModel):
    """A sentence of the answer that cites a source, and whether the source backs it."""

    sentence: str
    supported: bool
    lexical: float = Field(description="Share of the sentence's content words found in the passage.")
    similarity: float = Field(description="Embedding cosine of sentence and passage.")


class SourceOut(BaseModel):
    """A retrieved chunk: where it comes from (1-based page) and how well it matched."""

    document_id: str
    filename: str
    page: int
    text: str
    score: float
    chunk_id: str = Field("", description="Highlight it with /api/documents/{document_id}/pages/{page}?chunk_id=")
    cited: bool = Field(False, description="In a chat reply: the answer cites this source with [n].")
    supported: bool | None = Field(
        None, description="In a chat reply: every sentence citing it is backed by its text (null when uncited)."
    )
    claims: list[Claim] = Field(default_factory=list, description="In a chat reply: each sentence citing it.")
    section: str | None = Field(None, description="The statement or heading its page sits under, e.g. "
                                                  "'Consolidated Statements of Income'; null when unknown.")


class SearchRequest(ApiRequest):
    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS)
    k: int = Field(5, ge=1, le=50)
    document_ids: list[str] | None = Field(None, max_length=MAX_DOCUMENT_IDS)
    expand: bool = Field(False, description="Also search the chat model's phrasings of the query, in the "
                                            "documents' words (one model call: slower, better for paraphrases).")
    section: str | None = Field(None, min_length=1, max_length=200,
                                description="Only results under this section: a statement's name ('balance sheet') "
                                            "matches that statement's pages, other text any heading containing it "
                                            "('risk factors'); case-insensitive.")
    statement: Literal["income_statement", "balance_sheet", "cash_flow", "equity", "comprehensive_income"] | None = Field(
        None, description="Only results on this financial statement's pages.")

    _query_not_blank = field_validator("query")(_not_blank)


class SearchResponse(BaseModel):
    results: list[SourceOut]


# --- chat (seed 003) ---------------------------------------------------------------------


class HistoryMessage(BaseModel):
    role: Literal["user", "assistant", "system"]
    content: str = Field(max_length=MAX_QUERY_CHARS * 4)


class ChatRequest(ApiRequest):
    """Seed 003's ``chat()`` arguments plus docchat's retrieval switches."""

    query: str = Field(min_length=1, max_length=MAX_QUERY_CHARS, description="The user's question.")
    conversation_id: str | None = Field(
        None, max_length=200, description="Continue this conversation (yours only); default: your current one."
    )
    new_conversation: bool = Field(False, description="Start a new conversation for this question.")
    history_len: int = Field(-1, ge=-1, description="Stored messages to use as history; -1 = all that fit.")
    history: list[HistoryMessage] | int | None = Field(
        None,
        description="A list replaces the stored history for this turn; an int works like history_len.",
    )
    stream: bool = Field(False, description="Answer as text/event-stream.")
    model_name: str | None = Field(None, max_length=200, description="Accepted for compatibility; the server's model answers.")
    temperature: float | None = Field(None, ge=0.0, le=2.0)
    max_tokens: int | None = Field(None, description="Longest answer in tokens; <= 0 or null = server default.")
    prompt_name: Literal["default", "rag", "chat"] | None = Field(
        None, description="'chat' answers without retrieval; 'default'/'rag' use the documents."
    )
    use_rag: bool = Field(True, description="Retrieve from the documents before answering.")
    document_ids: list[str] | None = Field(None, max_length=MAX_DOCUMENT_IDS, description="Search only these documents.")
    k: int | None = Field(None, ge=1, le=50, description="Chunks to retrieve (default: server setting).")

    _query_not_blank = field_validator("query")(_not_blank)

    @field_validator("history")
    @classmethod
    def _history_size(cls, value: Any) -> Any:
        if isinstance(value, list) and len(value) > MAX_HISTORY_MESSAGES:
            raise ValueError(f"at most {MAX_HISTORY_MESSAGES} history messages")
        if isinstance(value, int) and value < -1:
            raise ValueError("must be >= -1")
        return value


class OperandOut(BaseModel):
    value: float
    source: int | None = Field(description="1-based number of the passage that prints it; null when none does.")
    text: str | None = Field(None, description="The operand as the expression writes it, e.g. '4,396'.")


class CalculationOut(BaseModel):
    """A calculation the answer made (DESIGN.md §5): evaluated by docchat, not by the model."""

    expression: str
    result: float | None = Field(description="null when the expression could not be evaluated.")
    ok: bool = Field(description="Evaluated, and every operand is printed in a passage.")
    flag: str | None = Field(None, description="Why it is not ok, e.g. 'figure not found in the passages: 4,397'.")
    operands: list[OperandOut]


class ChatResponse(BaseModel):
    text: str
    message_id: str | None
    conversation_id: str | None
    standalone_query: str
    sources: list[SourceOut]
    finish_reason: str = Field("stop", description="'stop' | 'length' | 'cancelled'")
    warnings: list[str] = Field(default_factory=list, description="E.g. max_tokens lowered so the question fits.")
    calculations: list[CalculationOut] = Field(default_factory=list, description="What the answer computed; [] when nothing.")


# --- conversations ------------------------------------------------------------------------


class ConversationInfo(BaseModel):
    id: str
    title: str
    created_at: str
    updated_at: str


class ConversationList(BaseModel):
    conversations: list[ConversationInfo]


class MessageInfo(BaseModel):
    id: str
    role: str
    content: str
    sources: list[dict[str, Any]]
    created_at: str
    standalone_query: str | None = None
    status: str = "complete"
    calculations: list[dict[str, Any]] = Field(default_factory=list)


class MessageList(BaseModel):
    messages: list[MessageInfo]


# --- health --------------------------------------------------------------------------------


class Health(BaseModel):
    status: Literal["ok"] = "ok"
    model: str
    embedding_model: str
    device: str | None = None
    engine: str | None = None  # "llama.cpp", "transformers" or "OpenAI-compatible server"
