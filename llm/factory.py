"""The one place that decides which chat backend docchat runs on."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from llm.types import ChatBackend

if TYPE_CHECKING:
    from pathlib import Path

    from llm.model_paths import ModelChoice
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

    from llm.model_paths import resolve_chat_model

    choice = resolve_chat_model(settings.model, settings.device)
    if choice.gguf_file and settings.engine != "transformers":
        return _llamacpp(settings, choice)

    from llm.adapters import resolve_adapters
    from llm.transformers_backend import TransformersBackend

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


def _llamacpp(settings: "Settings", choice: "ModelChoice") -> ChatBackend:
    """A GGUF model on llama.cpp; an answer adapter must be a GGUF LoRA file there."""
    from llm.adapters import OFF, AdapterError, llamacpp_lora
    from llm.llamacpp_backend import LlamaCppBackend

    condense = (settings.condense_adapter or "").strip().lower()
    if condense not in (*OFF, "auto"):
        raise AdapterError(
            "--condense-adapter needs the transformers engine (peft switches adapters per call); "
            "add --engine transformers, or serve one GGUF LoRA for every call with --adapter FILE.gguf."
        )
    logger.info("chat backend: llama.cpp, %s", choice.reason)
    speculation, draft = _speculation(settings, choice)
    return LlamaCppBackend(
        choice.gguf_path,
        name=_display_name(choice),
        context_window=settings.context_window,
        threads=settings.llm_threads,
        max_queue=settings.max_queue,
        kv_cache_mb=settings.kv_cache_mb,
        lora_path=llamacpp_lora(settings.adapter),
        speculation=speculation,
        draft_model_path=draft,
    )


def _speculation(settings: "Settings", choice: "ModelChoice") -> tuple[str, "Path | None"]:
    """``DOCCHAT_SPECULATION`` for this model, and the draft GGUF for "draft-model": the bundled
    Qwen2.5-Coder-0.5B drafts for the 1.5B (same tokenizer); for any other model it is off."""
    from llm.bundled_models import QWEN_0_5B, QWEN_1_5B, assemble

    if settings.speculation != "draft-model":
        return settings.speculation, None
    if choice.gguf_file != QWEN_1_5B.file_name:
        logger.warning("speculation 'draft-model' drafts with Qwen2.5-Coder-0.5B for the 1.5B only; "
                       "%s decodes one token at a time", choice.gguf_file)
        return "off", None
    return "draft-model", assemble(QWEN_0_5B)


def _display_name(choice: "ModelChoice") -> str:
    """'Qwen2.5-Coder-1.5B-Instruct (GGUF Q4_K_M)' for the UI and /healthz."""
    from llm.bundled_models import PARTED_MODELS
    from llm.transformers_backend import display_name

    for model in PARTED_MODELS.values():
        if choice.gguf_file == model.file_name:
            return f"{model.display} (GGUF Q4_K_M)"
    return display_name(choice.source, choice.gguf_file, None)
