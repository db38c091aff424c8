"""Settings → LoRA adapters: the shipped condense adapter, bad directories, remote backends."""

from __future__ import annotations

import pytest

from llm.adapters import SHIPPED_CONDENSE, AdapterError, refuse_remote, resolve_adapters
from llm.model_paths import ModelChoice


def test_shipped_condense_adapter_goes_with_the_bundled_model_only():
    from llm.model_paths import bundled_chat_model
    from settings import Settings

    folder, gguf = bundled_chat_model()
    bundled = ModelChoice(str(folder), gguf, "cpu", None, "test")
    other = ModelChoice("Qwen/Qwen2.5-3B-Instruct", None, "cuda", "bfloat16", "test")
    assert resolve_adapters(Settings(), bundled) == {"condense": SHIPPED_CONDENSE.resolve()}
    assert resolve_adapters(Settings(), other) == {}
    assert resolve_adapters(Settings(condense_adapter="none"), bundled) == {}


def test_bad_adapter_dir_is_a_clear_error(tmp_path):
    from settings import Settings

    choice = ModelChoice("x", None, "cpu", None, "test")
    with pytest.raises(AdapterError, match="is not a LoRA adapter directory"):
        resolve_adapters(Settings(adapter=str(tmp_path)), choice)


def test_remote_backend_refuses_adapters_and_points_to_vllm():
    from llm.factory import make_backend
    from settings import Settings

    with pytest.raises(AdapterError, match="--lora-modules"):
        make_backend(Settings(llm_base_url="http://127.0.0.1:9/v1", adapter="some/dir"))
    refuse_remote(Settings(llm_base_url="http://127.0.0.1:9/v1"))  # the 'auto' default is fine
