"""UI logins and per-browser identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import Settings
from services.access import Access
from ui.auth import BadCredentials, auth_callable, parse_credentials


def test_no_logins_means_an_open_ui(tmp_path):
    assert auth_callable(Settings(data_dir=tmp_path)) is None


def test_logins_come_from_flags_and_file(tmp_path: Path):
    auth_file = tmp_path / "users.txt"
    auth_file.write_text("# team\nbob:s3:cret\n\n", encoding="utf-8")
    check = auth_callable(Settings(data_dir=tmp_path, auth=["alice:pw"], auth_file=auth_file))
    assert check("alice", "pw") and check("bob", "s3:cret")
    assert not check("alice", "wrong") and not check("carol", "pw")


def test_malformed_entry_is_refused():
    with pytest.raises(BadCredentials):
        parse_credentials(["alice"])


def test_logged_in_name_is_the_identity(tmp_path):
    caller, browser_id = Access.from_settings(Settings(data_dir=tmp_path)).browser_caller(None, "alice")
    assert caller.user_id == "alice" and browser_id.startswith("web-")


def test_a_browser_keeps_its_id_and_a_forged_one_is_replaced(tmp_path):
    access = Access.from_settings(Settings(data_dir=tmp_path))
    first, kept = access.browser_caller(None, None)
    again, _ = access.browser_caller(kept, None)
    assert again.user_id == first.user_id == kept
    forged, _ = access.browser_caller("alice", None)
    assert forged.user_id != "alice" and forged.user_id.startswith("web-")
