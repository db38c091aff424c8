"""One settings path: every Settings field is a flag of app.py, and a bad value is one plain line."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

import pytest

import app
import settings
from settings import Settings

REPO = Path(__file__).resolve().parents[1]


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


def test_every_settings_field_is_a_flag_of_app_py() -> None:
    flags = {option for action in app.build_parser()._actions for option in action.option_strings}
    for name in Settings.model_fields:
        assert settings.flag_name(name) in flags
    assert {"--model", "--share", "--no-share", "--port", "--data-dir", "--auth", "--log-level"} <= flags


def test_flags_win_over_the_environment_and_lists_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCCHAT_PORT", "7999")
    parsed, _ = app.settings_from_args(["--port", "7861", "--share", "--auth", "a:b,c", "--auth", "d:e",
                                        "--temperature", "0.5", "--log-level", "debug"])
    assert (parsed.port, parsed.share, parsed.auth, parsed.temperature, parsed.log_level) == (
        7861, True, ["a:b,c", "d:e"], 0.5, "debug")
    assert app.settings_from_args([])[0].port == 7999


def test_a_bad_flag_value_exits_2_with_one_line_naming_the_flag() -> None:
    done = run("app.py", "--temperature", "5")
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "--temperature" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_environment_value_is_reported_the_same_way() -> None:
    done = run("app.py", env={"DOCCHAT_PORT": "seventy"})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [done.stderr.strip()] and "DOCCHAT_PORT" in done.stderr


def test_bad_log_level_is_refused() -> None:
    parser = argparse.ArgumentParser(prog="x")
    settings.add_flags(parser)
    with pytest.raises(SystemExit) as exit_:
        settings.settings_from_args(parser, ["--log-level", "loud"])
    assert exit_.value.code == 2


def test_the_ingest_tool_takes_the_same_flags_from_the_same_place(tmp_path: Path) -> None:
    done = run("-m", "rag.ingest", str(tmp_path), "--data-dir", str(tmp_path / "d"), env={"DOCCHAT_PORT": "x"})
    assert done.returncode == 2 and "DOCCHAT_PORT" in done.stderr and "Traceback" not in done.stderr
    from rag import ingest

    parser = argparse.ArgumentParser()
    ingest.add_common_flags(parser)
    parsed, args = ingest.parse_args(parser, ["--data-dir", str(tmp_path), "--device", "cpu", "--owner", "u"])
    assert (parsed.data_dir, parsed.device, args.owner) == (tmp_path, "cpu", "u")


def test_generation_defaults_are_the_settings_defaults() -> None:
    from llm.types import GenerationParams

    params = GenerationParams()
    for name in ("max_new_tokens", "temperature", "top_p", "top_k", "repetition_penalty"):
        assert getattr(params, name) == Settings.model_fields[name].default, name
