"""Every product exception has one root that carries its HTTP status and its UI text."""

from __future__ import annotations

import pytest

import errors
from access import AccessError, BadCredentials
from api.errors import ApiError
from llm.adapters import AdapterError
from llm.openai_backend import LLMServerError
from llm.types import BackendBusy, ModelNotFound, PromptTooLong
from rag import types as rag_types
from rag.knowledge_base import IngestTimeout
from rag.page_render import PageNotFound
from storage.db import DatabaseClosed
from storage.documents import DocumentExists, DocumentNotFound
from storage.history import ConversationNotFound, EmptyTitle
from ui import errors as ui_errors
from ui.i18n import EN, ZH

PRODUCT_ERRORS = [
    AccessError, BadCredentials, ApiError, AdapterError, LLMServerError, BackendBusy, ModelNotFound,
    PromptTooLong, rag_types.UnreadablePDF, rag_types.PasswordProtectedPDF, rag_types.NoTextLayer,
    rag_types.EmbeddingModelMismatch, rag_types.EmptyQuestion, rag_types.NothingToRegenerate,
    IngestTimeout, PageNotFound, DatabaseClosed, DocumentExists, DocumentNotFound, ConversationNotFound,
    EmptyTitle,
]


@pytest.mark.parametrize("cls", PRODUCT_ERRORS, ids=lambda cls: cls.__name__)
def test_every_product_error_has_one_root_a_status_and_a_ui_text(cls: type) -> None:
    assert issubclass(cls, errors.DocchatError)
    assert 400 <= cls.http_status <= 599
    assert cls.ui_key is None or (cls.ui_key in EN and cls.ui_key in ZH)


def test_rag_types_still_exports_the_root() -> None:
    assert rag_types.DocchatError is errors.DocchatError


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [(BackendBusy, RuntimeError), (PromptTooLong, ValueError), (ConversationNotFound, LookupError),
     (DocumentNotFound, LookupError), (PageNotFound, LookupError), (DatabaseClosed, RuntimeError),
     (ModelNotFound, RuntimeError), (BadCredentials, ValueError), (rag_types.EmptyQuestion, ValueError),
     (EmptyTitle, ValueError)],
)
def test_builtin_bases_that_callers_catch_are_kept(cls: type, builtin: type) -> None:
    assert issubclass(cls, builtin)


def test_a_500_keeps_its_text_to_the_log() -> None:
    assert errors.user_message(DatabaseClosed("database /srv/x.db is closed")) is None
    assert errors.user_message(LLMServerError("Cannot reach http://10.0.0.5")) is None
    assert errors.user_message(BackendBusy("3 requests are waiting")) == "3 requests are waiting"
    assert errors.user_message(RuntimeError("boom")) is None


def test_the_ui_says_each_error_by_its_key() -> None:
    assert ui_errors.describe(ConversationNotFound("no conversation 'x'"), "en") == EN["gone"]
    assert ui_errors.describe(BackendBusy("3 waiting"), "zh") == ZH["busy"]
    assert ui_errors.describe(PromptTooLong("4000 tokens"), "zh") == ZH["prompt_too_long"]
    assert ui_errors.describe(DatabaseClosed("database /srv/x.db is closed"), "en") == EN["not_done"]
    assert ui_errors.describe(rag_types.UnreadablePDF("a.pdf: not a PDF file"), "en") == "A.pdf: not a PDF file"
    assert ui_errors.describe(rag_types.UnreadablePDF("a.pdf: not a PDF file"), "zh") == ZH["pdf_not_pdf"].format(name="a.pdf")
