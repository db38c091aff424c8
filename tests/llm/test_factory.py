"""make_backend picks the backend from the settings."""

from llm.factory import make_backend
from llm.openai_backend import OpenAIBackend
from settings import Settings


def test_base_url_selects_the_openai_compatible_server(openai_server, transformers_smollm2):
    url, _ = openai_server
    backend = make_backend(Settings(llm_base_url=url, context_window=1024))

    assert isinstance(backend, OpenAIBackend)
    assert backend.model == transformers_smollm2.name
    assert backend.context_window == 1024


def test_a_gguf_runs_on_llamacpp_unless_transformers_is_asked_for(tmp_path):
    from llm.llamacpp_backend import LlamaCppBackend
    from llm.model_paths import bundled_chat_model

    folder, gguf = bundled_chat_model()
    backend = make_backend(Settings(model=str(folder / gguf), data_dir=tmp_path, llm_threads=1, context_window=512))
    assert isinstance(backend, LlamaCppBackend)
    assert (backend.engine, backend.context_window, backend.threads) == ("llama.cpp", 512, 1)


def test_a_peft_adapter_directory_is_refused_on_llamacpp_with_the_way_out(tmp_path):
    import pytest

    from llm.adapters import SHIPPED_CONDENSE, AdapterError

    with pytest.raises(AdapterError, match="convert_lora_to_gguf.py"):
        make_backend(Settings(model="smollm2", adapter=str(SHIPPED_CONDENSE), data_dir=tmp_path))
    with pytest.raises(AdapterError, match="--engine transformers"):
        make_backend(Settings(model="smollm2", condense_adapter=str(SHIPPED_CONDENSE), data_dir=tmp_path))
