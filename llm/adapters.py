"""LoRA adapters on the local chat model: which ones, loading them, choosing one per call.

One base model stays in memory; peft keeps each adapter beside it under a role name
("answer" for ``--adapter``, "condense" for ``--condense-adapter``) and every
``generate`` call names the adapter of each batch row (peft's ``adapter_names``), so a
condense call and an answer call can follow each other, or share a batch, without
swapping weights. A role with no adapter runs the plain base model.

The condense adapter trained on TREC CAsT (``llm/lora_adapters/smollm2-condense``,
made by ``python -m train --task condense``) is used by default whenever the
bundled SmolLM2 runs: that 135M model cannot condense follow-ups without it.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from llm.model_paths import ModelNotFound

if TYPE_CHECKING:
    from llm.model_paths import ModelChoice
    from settings import Settings

logger = logging.getLogger(__name__)

ANSWER = "answer"
CONDENSE = "condense"
BASE = "__base__"  # peft's name for "no adapter" in a mixed batch
SHIPPED_DIR = Path(__file__).parent / "lora_adapters"
SHIPPED_CONDENSE = SHIPPED_DIR / "smollm2-condense"
OFF = ("", "none", "off", "false")

VLLM_HINT = (
    "LoRA adapters are loaded onto the local transformers model only. With an OpenAI-compatible "
    "server, serve the adapter there (vLLM: `vllm serve BASE --enable-lora --lora-modules NAME=DIR`) "
    "and choose it with --llm-model-name NAME."
)


class AdapterError(ModelNotFound):
    """An adapter setting that cannot be honoured; reported at start-up like a bad --model."""


def _is_bundled(choice: "ModelChoice") -> bool:
    from llm.model_paths import bundled_chat_model

    if not choice.gguf_file:
        return False
    try:
        folder, gguf = bundled_chat_model()
    except ModelNotFound:
        return False
    return Path(choice.source).resolve() == folder.resolve() and choice.gguf_file == gguf


def check_adapter_dir(path: str | Path) -> Path:
    """The adapter directory, or ``AdapterError`` saying what is wrong with it."""
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise AdapterError(f"The LoRA adapter directory {str(path)!r} does not exist.")
    if not (folder / "adapter_config.json").is_file():
        raise AdapterError(
            f"{str(path)!r} is not a LoRA adapter directory (no adapter_config.json); "
            "make one with `python -m train`."
        )
    return folder.resolve()


def resolve_adapters(settings: "Settings", choice: "ModelChoice") -> dict[str, Path]:
    """{role: directory} for the local model ``choice`` from ``--adapter``/``--condense-adapter``.

    ``condense_adapter='auto'`` means the shipped CAsT adapter when the bundled SmolLM2 is
    the model (it was trained for exactly that model), nothing otherwise.
    """
    adapters: dict[str, Path] = {}
    if settings.adapter and settings.adapter.strip().lower() not in OFF:
        adapters[ANSWER] = check_adapter_dir(settings.adapter)
    condense = (settings.condense_adapter or "").strip()
    if condense.lower() == "auto":
        if _is_bundled(choice) and (SHIPPED_CONDENSE / "adapter_config.json").is_file():
            adapters[CONDENSE] = SHIPPED_CONDENSE.resolve()
    elif condense.lower() not in OFF:
        adapters[CONDENSE] = check_adapter_dir(condense)
    return adapters


def llamacpp_lora(adapter: str | None) -> Path | None:
    """The GGUF LoRA file for ``--adapter`` on llama.cpp (applied to every call), or None.

    llama.cpp reads LoRA adapters as GGUF; a peft directory (what ``python -m train`` writes)
    is converted once with llama.cpp's ``convert_lora_to_gguf.py`` (README, fine-tuning).
    """
    if not adapter or adapter.strip().lower() in OFF:
        return None
    path = Path(adapter).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return path.resolve()
    if path.is_dir() and (path / "adapter_config.json").is_file():
        raise AdapterError(
            f"{adapter!r} is a peft LoRA directory; llama.cpp needs it as a GGUF LoRA file. Convert it with "
            "llama.cpp's convert_lora_to_gguf.py (README: fine-tuning), or run it with --engine transformers."
        )
    raise AdapterError(f"The LoRA adapter {adapter!r} is neither a .gguf file nor an adapter directory.")


def refuse_remote(settings: "Settings") -> None:
    """``AdapterError`` when an adapter is asked for explicitly with ``--llm-base-url``."""
    explicit = [name for name, value in (("--adapter", settings.adapter), ("--condense-adapter", settings.condense_adapter))
                if value and value.strip().lower() not in (*OFF, "auto")]
    if explicit:
        raise AdapterError(f"{' and '.join(explicit)} cannot be used with --llm-base-url. {VLLM_HINT}")


def attach_adapters(model: Any, adapters: dict[str, Path]) -> Any:
    """The model wrapped by peft with every adapter loaded under its role name (inference only)."""
    if not adapters:
        return model
    from peft import PeftModel

    wrapped = None
    for role, folder in adapters.items():
        try:
            if wrapped is None:
                wrapped = PeftModel.from_pretrained(model, str(folder), adapter_name=role, is_trainable=False)
            else:
                wrapped.load_adapter(str(folder), adapter_name=role, is_trainable=False)
        except (RuntimeError, ValueError, KeyError, OSError) as exc:
            raise AdapterError(
                f"The LoRA adapter {str(folder)!r} does not fit this chat model "
                f"(trained for {_base_of(folder)!r}): {str(exc).splitlines()[0][:200]}"
            ) from exc
        logger.info("LoRA adapter %r loaded from %s", role, folder)
    wrapped.eval()
    return wrapped


def adapter_for(adapters: dict[str, Path], requested: str | None) -> str:
    """The loaded adapter a call runs with: the requested role when loaded; no request
    means an answer (the answer adapter when there is one); otherwise the base model."""
    role = requested or ANSWER
    return role if role in adapters else BASE


def generate_kwargs(adapters: dict[str, Path], requested: str | None, rows: int = 1) -> dict[str, Any]:
    """Extra ``generate`` keyword arguments choosing the adapter for ``rows`` batch rows."""
    if not adapters:
        return {}
    return {"adapter_names": [adapter_for(adapters, requested)] * rows}


def describe(adapters: dict[str, Path]) -> str:
    """'LoRA condense: smollm2-condense' for the model name shown in the UI and /healthz."""
    if not adapters:
        return ""
    return "LoRA " + ", ".join(f"{role}: {folder.name}" for role, folder in adapters.items())


def _base_of(folder: Path) -> str:
    try:
        return json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"] or "?"
    except (OSError, ValueError, KeyError):
        return "?"
