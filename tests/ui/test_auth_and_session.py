"""UI logins and per-browser identity."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import Settings
from ui import session
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


def test_logged_in_name_is_the_identity():
    user_id, browser_id = session.resolve_user(None, "alice")
    assert user_id == "alice" and browser_id.startswith("web-")


def test_a_browser_keeps_its_id_and_a_forged_one_is_replaced():
    first, kept = session.resolve_user(None, None)
    again, _ = session.resolve_user(kept, None)
    assert again == first == kept
    forged, _ = session.resolve_user("alice", None)
    assert forged != "alice" and forged.startswith("web-")
