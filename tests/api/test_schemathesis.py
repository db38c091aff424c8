"""Fuzz every operation of /openapi.json with schemathesis: no input may cause a 5xx."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HOOKS = Path(__file__).with_name("schemathesis_hooks.py")


@pytest.mark.slow
def test_no_generated_request_causes_a_server_error(server, tmp_path: Path) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if cli is None:
        pytest.skip("schemathesis is not installed (pip install schemathesis)")
    result = subprocess.run(
        [
            cli, "run", f"{server.base_url}/openapi.json",
            "--checks", "not_a_server_error",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", os.environ.get("DOCCHAT_FUZZ_EXAMPLES", "5"),
            "--workers", "1",
            "--request-timeout", "120",
            "--seed", "7",
            "--no-color",
            "--report-dir", str(tmp_path),
        ],
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
