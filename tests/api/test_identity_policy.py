"""The rules of access.py as plain values: modes, start-up refusals, identities from headers."""

from __future__ import annotations

import base64

import bcrypt
import pytest

from access import AccessError, AccessPolicy, document_scope, hash_password
from settings import Settings


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def policy(tmp_path, **overrides) -> AccessPolicy:
    return AccessPolicy.from_settings(Settings(data_dir=tmp_path, **overrides))


def test_local_mode_takes_the_header_or_default(tmp_path) -> None:
    p = policy(tmp_path)
    assert p.mode == "local"
    assert p.identify({}).user_id == "default"
    assert p.identify({"x-user-id": "bob"}).user_id == "bob"
    with pytest.raises(AccessError) as refused:
        p.identify({"x-user-id": " padded "})
    assert refused.value.status == 400


def test_logins_accept_plain_argon2_and_bcrypt(tmp_path) -> None:
    auth_file = tmp_path / "users.txt"
    auth_file.write_text(f"bob:{hash_password('b-pw')}\ndave:{bcrypt.hashpw(b'd-pw', bcrypt.gensalt()).decode()}\n")
    p = policy(tmp_path, auth=["alice:a-pw"], auth_file=auth_file)
    assert p.mode == "users"
    for user, password in [("alice", "a-pw"), ("bob", "b-pw"), ("dave", "d-pw")]:
        assert p.identify(basic(user, password)).user_id == user
        assert p.check_login(user, password) and not p.check_login(user, password + "!")
    with pytest.raises(AccessError) as missing:
        p.identify({"x-user-id": "alice"})
    assert missing.value.status == 401 and missing.value.challenge.startswith("Basic")
    with pytest.raises(AccessError) as other:
        p.identify({**basic("alice", "a-pw"), "x-user-id": "bob"})
    assert other.value.status == 403


def test_per_user_keys_and_the_gateway_key(tmp_path) -> None:
    keys = tmp_path / "keys.txt"
    keys.write_text("carol:c-key\n")
    p = policy(tmp_path, api_keys_file=keys, api_key="gateway-key")
    assert p.identify({"authorization": "Bearer c-key"}).user_id == "carol"
    assert p.check_login("carol", "c-key")  # the key also opens the UI
    gateway = p.identify({"authorization": "Bearer gateway-key", "x-user-id": "erin"})
    assert (gateway.user_id, gateway.method) == ("erin", "gateway")
    with pytest.raises(AccessError):
        p.identify({"authorization": "Bearer nope"})


@pytest.mark.parametrize(
    ("overrides", "refused"),
    [
        ({}, False),
        ({"share": True}, True),
        ({"host": "0.0.0.0"}, True),
        ({"host": "0.0.0.0", "api_key": "k"}, False),
        ({"share": True, "api_key": "k"}, True),
        ({"share": True, "auth": ["a:b"]}, False),
        ({"host": "::1"}, False),
        ({"share": True, "allow_anonymous": True}, False),
    ],
)
def test_start_up_refusals(tmp_path, overrides, refused) -> None:
    assert bool(policy(tmp_path, **overrides).startup_problem()) is refused


def test_document_scope_is_one_rule(tmp_path) -> None:
    assert document_scope(Settings(data_dir=tmp_path), "alice") is None
    assert document_scope(Settings(data_dir=tmp_path, private_docs=True), "alice") == "alice"
