"""The SQLite FTS5 keyword index: tokenizing, ranking, filters, persistence, legacy import."""

import json

import pytest

from rag.keyword_index import KeywordIndex, import_legacy_bm25, match_expression, tokenize
from rag.types import Chunk
from storage.db import Database


def _chunk(doc: str, index: int, text: str) -> Chunk:
    return Chunk(f"{doc}:1:{index}", doc, f"{doc}.pdf", 1, 1, index, text)


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "docchat.sqlite3")
    yield database
    database.close()


def test_english_is_lowercased_words_without_stopwords():
    assert tokenize("The Operating Margin of Adobe's FY2022") == ["operating", "margin", "adobe", "fy2022"]


def test_chinese_is_cut_into_words():
    tokens = tokenize("数字金融促进企业发展")
    assert {"数字", "金融", "企业", "发展"} <= set(tokens)


def test_match_expression_quotes_every_token_once():
    assert match_expression(["tea", 'x"y', "tea", "or"]) == '"tea" OR "x""y" OR "or"'


def test_query_finds_the_chunk_with_the_words(db):
    index = KeywordIndex(db)
    index.add([_chunk("a", 0, "green tea water temperature"), _chunk("a", 1, "bicycle chain oil"),
               _chunk("b", 0, "熊猫吃竹子")])
    assert index.search("bicycle oil", 2)[0][0] == "a:1:1"
    assert index.search("熊猫", 2)[0][0] == "b:1:0"
    assert index.search("NEAR AND OR \"(", 2) == []  # operators and quotes are words, not syntax


def test_more_matching_words_rank_higher(db):
    index = KeywordIndex(db)
    index.add([_chunk("a", 0, "tea kettle"), _chunk("a", 1, "tea kettle water temperature"),
               _chunk("a", 2, "bicycle")])
    ranked = index.search("kettle water temperature", 3)
    assert [cid for cid, _ in ranked] == ["a:1:1", "a:1:0"]
    assert ranked[0][1] > ranked[1][1] > 0


def test_query_can_be_restricted_to_documents_and_owner(db):
    index = KeywordIndex(db)
    index.add([_chunk("a", 0, "tea tea tea"), _chunk("b", 0, "tea")])
    index.add([_chunk("c", 0, "tea")], owner="alice")
    assert [cid for cid, _ in index.search("tea", 5, document_ids=["b"])] == ["b:1:0"]
    assert index.search("tea", 5, document_ids=[]) == []
    assert [cid for cid, _ in index.search("tea", 5, owner="alice")] == ["c:1:0"]
    assert {cid for cid, _ in index.search("tea", 5)} == {"a:1:0", "b:1:0"}


def test_texts_replace_what_is_tokenized(db):
    index = KeywordIndex(db)
    index.add([_chunk("a", 0, "body text")], texts=["Annual Report: body text"])
    assert index.search("annual", 1)[0][0] == "a:1:0"


def test_adding_a_document_again_replaces_its_rows(db):
    index = KeywordIndex(db)
    index.add([_chunk("a", 0, "tea"), _chunk("a", 1, "coffee")])
    index.add([_chunk("a", 0, "juice")])
    assert index.chunk_counts() == {"a": 1}
    assert index.search("coffee", 1) == [] and index.search("tea", 1) == []
    assert index.search("juice", 1)[0][0] == "a:1:0"


def test_index_survives_a_restart_and_deletes_are_immediate(db, tmp_path):
    index = KeywordIndex(db)
    index.add([_chunk("a", 0, "tea"), _chunk("b", 0, "coffee")])
    assert index.delete_document("a")
    assert index.search("tea", 1) == []
    assert not index.delete_document("a")
    db.close()
    with Database(tmp_path / "docchat.sqlite3") as reopened_db:
        reopened = KeywordIndex(reopened_db)
        assert reopened.document_ids() == {"b"}
        assert reopened.search("coffee", 1)[0][0] == "b:1:0"
        assert reopened.search("tea", 1) == []


def test_a_rolled_back_transaction_leaves_no_rows(db):
    index = KeywordIndex(db)
    with pytest.raises(RuntimeError):
        with db.transaction():
            index.add([_chunk("a", 0, "tea")])
            raise RuntimeError("crash before commit")
    assert index.document_ids() == set() and index.search("tea", 1) == []


def test_legacy_token_files_are_imported_and_removed(db, tmp_path):
    legacy = tmp_path / "bm25"
    (legacy / "docchat_shared").mkdir(parents=True)
    (legacy / "docchat_shared" / "a.json").write_text(json.dumps(
        {"document_id": "a", "chunks": [{"id": "a:1:0", "tokens": ["green", "tea"]}]}), encoding="utf-8")
    (legacy / "docchat_shared" / "broken.json").write_text("{not json", encoding="utf-8")
    index = KeywordIndex(db)
    assert import_legacy_bm25(index, legacy, {"docchat_shared": ""}) == 1
    assert not legacy.exists()
    assert index.search("green tea", 1)[0][0] == "a:1:0"
