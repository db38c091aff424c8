"""Signed page links: valid for their document, scope and lifetime only."""

from urllib.parse import parse_qs, urlsplit

from services import page_links

KEY = bytes(32)


def _params(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def test_a_fresh_link_verifies_and_a_changed_one_does_not():
    p = _params(page_links.page_url(KEY, "doc1", "alice", 3))
    assert page_links.verify(KEY, "doc1", "alice", int(p["exp"]), p["sig"])
    assert not page_links.verify(KEY, "doc2", "alice", int(p["exp"]), p["sig"])
    assert not page_links.verify(KEY, "doc1", "bob", int(p["exp"]), p["sig"])
    assert not page_links.verify(KEY, "doc1", "alice", int(p["exp"]) + 1, p["sig"])
    assert not page_links.verify(KEY, "doc1", "alice", None, p["sig"])


def test_a_link_stops_working_after_its_lifetime():
    p = _params(page_links.file_url(KEY, "doc1", "", lifetime_s=60))
    expires = int(p["exp"])
    assert page_links.verify(KEY, "doc1", "", expires, p["sig"], now=expires - 1)
    assert not page_links.verify(KEY, "doc1", "", expires, p["sig"], now=expires + 1)
