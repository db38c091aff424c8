"""A non-editable install works: every top-level module the app imports is in the wheel.

`make` installs with `-e`, which hides a module missing from pyproject's lists (issue 28:
`services` was left out, so `pip install .` gave a package whose api/ could not import).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_the_built_wheel_imports_the_server_from_site_packages(tmp_path: Path) -> None:
    # A clean copy: setuptools' build/ folder in the checkout would hand back files of an
    # earlier build, hiding a module the package lists no longer name.
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(
        ".git", ".venv", "build", "dbcache", "*.egg-info", "__pycache__", "out", ".pytest_cache"))
    target = tmp_path / "target"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation",
                    "--target", str(target), str(source)], check=True, cwd=tmp_path, timeout=600)
    code = ("import api.server, app, services, settings, access, llm.llamacpp_backend, rag.turn, train.cli; "
            "print(api.server.__file__); print(services.__file__)")
    env = {**os.environ, "PYTHONPATH": str(target)}
    out = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    files = out.stdout.split()
    assert all(f.startswith(str(target)) for f in files), files
    assert (target / "llm" / "lora_adapters" / "smollm2-condense" / "adapter.gguf").is_file()
