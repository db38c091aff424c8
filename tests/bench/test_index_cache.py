"""The index cache's key: an index is reused only when nothing that shapes it has changed."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from bench.index_cache import INDEXING_MODULES, REPO_ROOT, indexing_key

SETTINGS = SimpleNamespace(chunk_tokens=256, chunk_overlap=32)


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    shutil.copytree(REPO_ROOT / "rag", tmp_path / "rag", ignore=shutil.ignore_patterns("__pycache__"))
    assert all((tmp_path / module).exists() for module in INDEXING_MODULES)
    return tmp_path


@pytest.mark.parametrize("module", ["rag/keyword_index.py", "rag/headings.py", "rag/splitter.py"])
def test_a_change_to_what_is_indexed_changes_the_key(repo_copy: Path, module: str):
    before = indexing_key(SETTINGS, "minilm", root=repo_copy)
    path = repo_copy / module
    path.write_text(path.read_text(encoding="utf-8") + "\n# changed\n", encoding="utf-8")
    assert indexing_key(SETTINGS, "minilm", root=repo_copy) != before


def test_the_key_depends_on_settings_and_model_not_on_the_folder(repo_copy: Path):
    key = indexing_key(SETTINGS, "minilm", root=repo_copy)
    assert key == indexing_key(SETTINGS, "minilm", root=REPO_ROOT)
    assert key != indexing_key(SimpleNamespace(chunk_tokens=128, chunk_overlap=32), "minilm", root=repo_copy)
    assert key != indexing_key(SETTINGS, "stella", root=repo_copy)
