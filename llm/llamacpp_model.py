"""What docchat reads from a GGUF and hands llama.cpp, apart from running it
(llm/llamacpp_backend.py): the threads to use, the context length the model was trained
with, its chat template, and the sampling arguments of a request."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

from llm.types import GenerationParams

logger = logging.getLogger(__name__)


def default_threads() -> int:
    """Threads for decoding: the CPUs this process may use (all of them on a 2-core box)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def sampling_kwargs(params: GenerationParams) -> dict[str, Any]:
    """``Llama.generate`` keyword arguments for ``params`` (seed 002 semantics).

    Temperature ~0 is greedy; top_k > 0 switches top_p off; top_p of 0 or 1 is off;
    llama.cpp's own extras (min_p 0.05, typical_p) are switched off so only the caller's
    parameters shape the distribution.
    """
    kwargs: dict[str, Any] = {"repeat_penalty": params.repetition_penalty or 1.0, "min_p": 0.0, "typical_p": 1.0}
    if params.greedy:
        return {**kwargs, "temp": 0.0, "top_k": 0, "top_p": 1.0}
    top_p = params.top_p if 0.0 < params.top_p < 1.0 and params.top_k <= 0 else 1.0
    return {**kwargs, "temp": params.temperature, "top_k": max(0, params.top_k), "top_p": top_p}


def trained_context(path: Path) -> int | None:
    """The context length the model was trained with, from the GGUF header."""
    try:
        from gguf import GGUFReader

        reader = GGUFReader(str(path))
        for key, value in reader.fields.items():
            if key.endswith(".context_length"):
                return int(value.parts[value.data[0]][0])
    except Exception as exc:  # an unreadable header: llama.cpp will say more when loading
        logger.debug("could not read the context length of %s: %s", path, exc)
    return None


def chat_formatter(llm: Any, template: str) -> Any:
    """The GGUF's chat template, rendered by llama-cpp-python's sandboxed jinja2 formatter."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    def text(token: int) -> str:
        return llm._model.token_get_text(token) if token != -1 else ""

    return Jinja2ChatFormatter(template=template, eos_token=text(llm.token_eos()), bos_token=text(llm.token_bos()))
