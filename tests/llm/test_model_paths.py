"""Where models come from and what 'auto' picks, without ever waiting on a closed network."""

from __future__ import annotations

import socket
from pathlib import Path

import dataclasses

import huggingface_hub.constants
import pytest

from llm.bundled_models import DEFAULT_CPU_MODEL, PARTED_MODELS

from llm.model_paths import (
    ModelNotFound,
    bundled_chat_model,
    bundled_embedding_dir,
    resolve_chat_model,
    resolve_embedding_model,
)

DEFAULT = PARTED_MODELS[DEFAULT_CPU_MODEL]


@pytest.fixture
def empty_hf_cache(tmp_path, monkeypatch) -> Path:
    """An empty Hugging Face cache, so 'auto' cannot find the big models locally."""
    cache = tmp_path / "hub"
    cache.mkdir()
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_CACHE", str(cache))
    return cache


@pytest.fixture
def closed_hub(monkeypatch, empty_hf_cache):
    """Offline mode off, and the Hub endpoint a local port where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setattr(huggingface_hub.constants, "ENDPOINT", f"http://127.0.0.1:{port}")


def test_bundled_chat_model_is_a_gguf_file():
    folder, gguf = bundled_chat_model()
    assert (folder / gguf).is_file()
    assert gguf.endswith(".gguf")


def test_bundled_embedding_dir_has_a_config():
    assert (bundled_embedding_dir() / "config.json").is_file()


def test_auto_on_cpu_is_the_assembled_qwen_gguf():
    choice = resolve_chat_model("auto", "cpu")
    assert (choice.gguf_file, choice.device) == (DEFAULT.file_name, "cpu")
    assert choice.gguf_path.stat().st_size == DEFAULT.size
    assert "Qwen2.5-Coder" in choice.reason and "no CUDA GPU" in choice.reason


def test_short_names_pick_each_offline_model():
    assert resolve_chat_model("qwen2.5-0.5b", "cpu").gguf_file == "qwen2.5-coder-0.5b-instruct.Q4_K_M.gguf"
    assert resolve_chat_model("Qwen2.5-1.5B", "cpu").gguf_file == "qwen2.5-coder-1.5b-instruct.Q4_K_M.gguf"
    assert resolve_chat_model("smollm2", "cpu").gguf_file == bundled_chat_model()[1]


def test_auto_falls_back_to_smollm2_when_the_parts_are_not_installed(monkeypatch):
    import llm.bundled_models as bm

    monkeypatch.setitem(bm.PARTED_MODELS, DEFAULT.short_name,
                        dataclasses.replace(DEFAULT, dist_prefix="not-installed-part"))
    choice = resolve_chat_model("auto", "cpu")
    assert choice.gguf_file == bundled_chat_model()[1]
    assert "is not installed" in choice.reason


def test_auto_with_gpu_but_offline_and_not_cached_falls_back(empty_hf_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    choice = resolve_chat_model("auto", "cuda")
    assert choice.gguf_file == DEFAULT.file_name
    assert choice.device == "cpu"
    assert "offline" in choice.reason


@pytest.mark.timeout(30)
def test_auto_with_an_unreachable_hub_falls_back(closed_hub):
    chat = resolve_chat_model("auto", "cuda")
    embedding = resolve_embedding_model("auto", "cpu")
    assert chat.gguf_file == DEFAULT.file_name
    assert embedding.source == str(bundled_embedding_dir())
    assert "did not answer" in embedding.reason


def test_auto_with_cached_weights_picks_qwen(empty_hf_cache, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    snapshot = empty_hf_cache / "models--Qwen--Qwen2.5-3B-Instruct" / "snapshots" / "abc"
    snapshot.mkdir(parents=True)
    (snapshot / "config.json").write_text("{}")
    (snapshot / "model.safetensors.index.json").write_text(
        '{"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}'
    )
    (snapshot / "model-00001-of-00002.safetensors").write_text("x")
    refs = snapshot.parent.parent / "refs"
    refs.mkdir()
    (refs / "main").write_text("abc")

    assert resolve_chat_model("auto", "cuda").gguf_file is not None  # a shard is missing: bundled model
    (snapshot / "model-00002-of-00002.safetensors").write_text("x")
    choice = resolve_chat_model("auto", "cuda")
    assert (choice.source, choice.dtype, choice.device) == ("Qwen/Qwen2.5-3B-Instruct", "bfloat16", "cuda")


def test_explicit_gguf_path():
    folder, gguf = bundled_chat_model()
    choice = resolve_chat_model(str(folder / gguf), "cpu")
    assert (choice.source, choice.gguf_file) == (str(folder.resolve()), gguf)


def test_explicit_local_dir_and_hf_id():
    local = resolve_embedding_model(str(bundled_embedding_dir()), "cpu")
    assert local.source == str(bundled_embedding_dir().resolve())
    assert resolve_chat_model("Qwen/Qwen2.5-0.5B-Instruct", "cpu").source == "Qwen/Qwen2.5-0.5B-Instruct"


def test_missing_path_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFound, match="does not exist"):
        resolve_chat_model(str(tmp_path / "nothing.gguf"), "cpu")
    with pytest.raises(ModelNotFound):
        resolve_chat_model(str(tmp_path / "missing" / "dir"), "cpu")
