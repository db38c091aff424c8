from rag.keyword_index import BM25Index, tokenize
from rag.types import Chunk


def _chunk(doc: str, index: int, text: str) -> Chunk:
    return Chunk(f"{doc}:1:{index}", doc, f"{doc}.pdf", 1, 1, index, text)


def test_english_is_lowercased_words_without_stopwords():
    assert tokenize("The Operating Margin of Adobe's FY2022") == ["operating", "margin", "adobe", "fy2022"]


def test_chinese_is_cut_into_words():
    tokens = tokenize("数字金融促进企业发展")
    assert {"数字", "金融", "企业", "发展"} <= set(tokens)


def test_query_finds_the_chunk_with_the_words(tmp_path):
    index = BM25Index(tmp_path)
    index.add([_chunk("a", 0, "green tea water temperature"), _chunk("a", 1, "bicycle chain oil"),
               _chunk("b", 0, "熊猫吃竹子")])
    assert index.query("bicycle oil", 2)[0][0] == "a:1:1"
    assert index.query("熊猫", 2)[0][0] == "b:1:0"


def test_query_can_be_restricted_to_documents(tmp_path):
    index = BM25Index(tmp_path)
    index.add([_chunk("a", 0, "tea tea tea"), _chunk("b", 0, "tea")])
    assert [cid for cid, _ in index.query("tea", 5, document_ids=["b"])] == ["b:1:0"]


def test_index_survives_a_restart_and_deletes_persist(tmp_path):
    index = BM25Index(tmp_path)
    index.add([_chunk("a", 0, "tea"), _chunk("b", 0, "coffee")])
    index.delete_document("a")
    reopened = BM25Index(tmp_path)
    assert reopened.document_ids() == {"b"}
    assert reopened.query("coffee", 1)[0][0] == "b:1:0"
    assert reopened.query("tea", 1) == []
