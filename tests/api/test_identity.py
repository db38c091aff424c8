"""One identity for the UI and every API route (issue 10, items 1 and 7).

The app with UI logins (one plain, one argon2 hash, one bcrypt hash) and a per-user
API key, in-process with the UI mounted (``start_app(ui=True)``, as ``app.py`` builds it):
a bare ``X-User-Id`` must no longer speak as anyone, Basic and per-user keys name
exactly one user, and the documents a user sees follow the same identity.
"""

from __future__ import annotations

import uuid

import bcrypt
import pytest
from fastapi.testclient import TestClient

from access import hash_password
from tests.api.conftest import LOOPBACK, PROTECTED_ROUTES, assert_error_shape

ALICE = ("alice", "secret1")
BOB = ("bob", "argon-pass")
DAVE = ("dave", "bcrypt-pass")
CAROL_KEY = "carol-key-" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def guarded(start_app, tmp_path_factory) -> TestClient:
    folder = tmp_path_factory.mktemp("identity")
    auth_file = folder / "users.txt"
    auth_file.write_text(
        f"# hashed logins\nbob:{hash_password(BOB[1])}\n"
        f"dave:{bcrypt.hashpw(DAVE[1].encode(), bcrypt.gensalt()).decode()}\n",
        encoding="utf-8",
    )
    keys_file = folder / "keys.txt"
    keys_file.write_text(f"carol:{CAROL_KEY}\n", encoding="utf-8")
    return start_app(ui=True, auth=[f"{ALICE[0]}:{ALICE[1]}"], auth_file=auth_file, api_keys_file=keys_file,
                     private_docs=True)


@pytest.fixture
def client(guarded) -> TestClient:
    """A fresh client of the guarded app per test: no cookie carries over."""
    return TestClient(guarded.app, base_url=LOOPBACK)


ROUTES = PROTECTED_ROUTES


@pytest.mark.parametrize(("method", "path", "body"), ROUTES)
def test_a_bare_user_header_is_not_an_identity(client, method, path, body) -> None:
    response = client.request(method, path, json=body, headers={"X-User-Id": "alice"})
    error = assert_error_shape(response, 401)
    assert error["type"] == "authentication_error"
    assert response.headers["WWW-Authenticate"].startswith("Basic")


def test_healthz_stays_open(client) -> None:
    assert client.get("/healthz").status_code == 200


def test_basic_login_is_the_identity_and_conversations_stay_apart(client) -> None:
    asked = client.post("/api/chat", json={"query": "hello from alice", "max_tokens": 4}, auth=ALICE)
    assert asked.status_code == 200, asked.text
    conversation = asked.json()["conversation_id"]
    mine = client.get("/api/conversations", auth=ALICE).json()["conversations"]
    assert conversation in {c["id"] for c in mine}
    theirs = client.get("/api/conversations", auth=BOB).json()["conversations"]
    assert conversation not in {c["id"] for c in theirs}
    assert client.get(f"/api/conversations/{conversation}/messages", auth=BOB).status_code == 404


def test_a_user_header_naming_someone_else_is_refused(client) -> None:
    response = client.get("/api/conversations", auth=ALICE, headers={"X-User-Id": "bob"})
    assert_error_shape(response, 403)
    assert client.get("/api/conversations", auth=ALICE, headers={"X-User-Id": "alice"}).status_code == 200


@pytest.mark.parametrize("login", [BOB, DAVE], ids=["argon2", "bcrypt"])
def test_hashed_logins_work_and_wrong_passwords_do_not(client, login) -> None:
    assert client.get("/v1/models", auth=login).status_code == 200
    refused = client.get("/v1/models", auth=(login[0], login[1] + "x"))
    assert_error_shape(refused, 401)
    assert_error_shape(client.get("/v1/models", auth=("nobody", login[1])), 401)


def test_a_per_user_key_names_its_user(client) -> None:
    carol = {"Authorization": f"Bearer {CAROL_KEY}"}
    asked = client.post("/api/chat", json={"query": "hello from carol", "max_tokens": 4}, headers=carol)
    assert asked.status_code == 200, asked.text
    conversation = asked.json()["conversation_id"]
    assert conversation in {c["id"] for c in client.get("/api/conversations", headers=carol).json()["conversations"]}
    assert conversation not in {c["id"] for c in client.get("/api/conversations", auth=ALICE).json()["conversations"]}
    assert_error_shape(client.get("/api/conversations", headers={**carol, "X-User-Id": "alice"}), 403)
    assert_error_shape(client.get("/api/conversations", headers={"Authorization": "Bearer wrong"}), 401)


def test_the_openai_client_works_with_a_user_key(guarded) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{LOOPBACK}/v1", api_key=CAROL_KEY, max_retries=0, http_client=guarded)
    assert client.models.list().data
    with pytest.raises(openai.AuthenticationError):
        openai.OpenAI(base_url=f"{LOOPBACK}/v1", api_key="wrong", max_retries=0, http_client=guarded).models.list()


def test_private_documents_follow_the_authenticated_user(client, hanfu_pdf) -> None:
    """Item 7: the document scope comes from the same identity, not from a header."""
    pdf = ("files", ("hanfu.pdf", hanfu_pdf.read_bytes(), "application/pdf"))
    uploaded = client.post("/api/documents", files=[pdf], auth=ALICE)
    assert uploaded.status_code == 200, uploaded.text
    doc_id = uploaded.json()["documents"][0]["id"]
    assert doc_id in {d["id"] for d in client.get("/api/documents", auth=ALICE).json()["documents"]}
    assert doc_id not in {d["id"] for d in client.get("/api/documents", auth=BOB).json()["documents"]}
    hits = client.post("/api/search", json={"query": "horse-face skirt"}, auth=BOB).json()["results"]
    assert not hits
    assert client.post("/api/search", json={"query": "horse-face skirt"}, auth=ALICE).json()["results"]
    assert_error_shape(client.delete(f"/api/documents/{doc_id}", auth=BOB), 404)


def test_the_ui_login_accepts_the_same_credentials(client) -> None:
    """Gradio's login form checks the same AccessPolicy as HTTP Basic."""
    ok = client.post("/login", data={"username": BOB[0], "password": BOB[1]})
    assert ok.status_code == 200, ok.text
    bad = client.post("/login", data={"username": BOB[0], "password": "nope"})
    assert bad.status_code == 400
