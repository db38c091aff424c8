"""Fuzz every operation of /openapi.json with schemathesis over the schema's real ranges:
no input may cause a 5xx, and a completion answered 200 always carried the question
(tests/api/schemathesis_hooks.py). Answer lengths are generated as the schema allows,
huge ones included; the server under test bounds what each answer may cost instead."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HOOKS = Path(__file__).with_name("schemathesis_hooks.py")
# Answers default to a few tokens and no answer may take longer than a few seconds,
# whatever max_tokens / response_length the fuzzer sends.
SERVER_ARGS = ("--max-new-tokens", "4", "--generation-timeout-s", "3")


@pytest.fixture(scope="module")
def fuzz_server(start_server):
    return start_server(*SERVER_ARGS)


@pytest.mark.slow
@pytest.mark.timeout(2400)  # the same bound as the schemathesis run itself
def test_no_generated_request_causes_a_server_error(fuzz_server, tmp_path: Path) -> None:
    cli = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    assert cli, "schemathesis is not installed: pip install -e '.[test]' (make test does it)"
    result = subprocess.run(
        [
            cli, "run", f"{fuzz_server.base_url}/openapi.json",
            "--checks", "not_a_server_error,question_reaches_the_model",
            "--phases", "examples,coverage,fuzzing",
            "--max-examples", os.environ.get("DOCCHAT_FUZZ_EXAMPLES", "40"),
            "--workers", "1",
            "--request-timeout", "120",
            "--seed", "7",
            "--no-color",
            "--report-dir", str(tmp_path),
        ],
        env={**os.environ, "SCHEMATHESIS_HOOKS": str(HOOKS)},
        capture_output=True,
        text=True,
        timeout=2400,
    )
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
