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


def test_a_gguf_lora_adapter_is_served_by_llamacpp(tmp_path):
    """The shipped condense adapter, converted with llama.cpp's convert_lora_to_gguf.py
    (README: fine-tuning), changes what the 135M model writes for a follow-up."""
    from llm.adapters import SHIPPED_CONDENSE
    from llm.types import GenerationParams
    from rag.condense import build_condense_messages

    turns = [{"role": "user", "content": "Tell me about the Eiffel Tower."},
             {"role": "assistant", "content": "It is a tower in Paris built in 1889."}]
    messages = build_condense_messages(turns, "How tall is it?")
    greedy = GenerationParams(max_new_tokens=30, temperature=0.0, repetition_penalty=1.0)
    plain = make_backend(Settings(model="smollm2", data_dir=tmp_path, llm_threads=1))
    tuned = make_backend(Settings(model="smollm2", adapter=str(SHIPPED_CONDENSE / "adapter.gguf"), data_dir=tmp_path,
                                  llm_threads=1))
    assert tuned.name.endswith("+ LoRA adapter.gguf")
    assert "Eiffel" not in plain.complete(messages, greedy).text
    assert "Eiffel" in tuned.complete(messages, greedy).text
