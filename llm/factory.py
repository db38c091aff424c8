"""The one place that decides which chat backend docchat runs on."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from llm.types import ChatBackend

if TYPE_CHECKING:
    from settings import Settings

logger = logging.getLogger(__name__)


def make_backend(settings: "Settings") -> ChatBackend:
    """``--llm-base-url`` set → OpenAIBackend; else the resolved local model (``--model``)."""
    if settings.llm_base_url:
        from llm.adapters import refuse_remote
        from llm.openai_backend import OpenAIBackend

        refuse_remote(settings)

        logger.info("chat backend: OpenAI-compatible server at %s", settings.llm_base_url)
        return OpenAIBackend(
            settings.llm_base_url,
            model=settings.llm_model_name,
            api_key=settings.llm_api_key,
            context_window=settings.context_window,
            timeout_s=settings.generation_timeout_s,
        )

    from llm.adapters import resolve_adapters
    from llm.model_paths import resolve_chat_model
    from llm.transformers_backend import TransformersBackend

    choice = resolve_chat_model(settings.model, settings.device)
    logger.info("chat backend: local transformers, %s", choice.reason)
    return TransformersBackend(
        choice.source,
        gguf_file=choice.gguf_file,
        device=choice.device,
        dtype=choice.dtype,
        context_window=settings.context_window,
        max_queue=settings.max_queue,
        max_batch=settings.max_batch,
        adapters=resolve_adapters(settings, choice),
    )
