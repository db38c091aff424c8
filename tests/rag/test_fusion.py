import pytest

from rag.fusion import collapse_near_duplicates, reciprocal_rank_fusion
from rag.types import Source


def test_rrf_sums_reciprocal_ranks():
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["b", "d"]], k=60)
    assert [item for item, _ in fused] == ["b", "a", "d", "c"]
    scores = dict(fused)
    assert scores["b"] == pytest.approx(1 / 62 + 1 / 61)
    assert scores["a"] == pytest.approx(1 / 61)
    assert scores["d"] == pytest.approx(1 / 62)
    assert scores["c"] == pytest.approx(1 / 63)


def test_rrf_ties_keep_first_seen_order():
    assert [item for item, _ in reciprocal_rank_fusion([["x"], ["y"]])] == ["x", "y"]


def test_rrf_of_nothing_is_empty():
    assert reciprocal_rank_fusion([]) == []
    assert reciprocal_rank_fusion([[], []]) == []


def _source(chunk_id: str, text: str, score: float = 1.0) -> Source:
    return Source(document_id="d", filename="f.pdf", page=1, text=text, score=score, chunk_id=chunk_id)


def test_same_chunk_id_is_kept_once():
    kept = collapse_near_duplicates([_source("c1", "alpha beta"), _source("c1", "different text")])
    assert [s.chunk_id for s in kept] == ["c1"]


def test_near_identical_text_is_kept_once_best_first():
    sources = [
        _source("c1", "Revenue grew 12% in fiscal 2022, driven by subscriptions."),
        _source("c2", "revenue grew 12% in fiscal 2022 driven by subscriptions"),
        _source("c3", "Operating margin declined to 34.6%."),
    ]
    assert [s.chunk_id for s in collapse_near_duplicates(sources)] == ["c1", "c3"]


def test_different_texts_are_all_kept():
    sources = [_source("c1", "green tea water temperature"), _source("c2", "bicycle chain oil")]
    assert [s.chunk_id for s in collapse_near_duplicates(sources)] == ["c1", "c2"]


def test_weighted_fusion_lets_the_dense_ranking_count_more():
    dense, bm25 = ["a", "b"], ["b", "a"]
    assert [item for item, _ in reciprocal_rank_fusion([dense, bm25])] == ["a", "b"]  # tie: first seen
    ranked = reciprocal_rank_fusion([dense, bm25], weights=(2.0, 1.0))
    assert [item for item, _ in ranked] == ["a", "b"]
    assert ranked[0][1] == pytest.approx(2 / 61 + 1 / 62)
    assert [item for item, _ in reciprocal_rank_fusion([dense, bm25], weights=(1.0, 2.0))] == ["b", "a"]


def test_merge_same_page_keeps_one_source_per_page_in_reading_order():
    from rag.fusion import merge_same_page
    from rag.types import Source

    def src(page, index, text, score):
        return Source("d", "f.pdf", page, text, score, chunk_id=f"d:{page}:{index}")

    merged = merge_same_page([src(2, 5, "later", 0.9), src(1, 0, "other page", 0.8),
                              src(2, 4, "earlier", 0.7), src(2, 6, "third", 0.6)])
    assert [(s.page, s.text, s.score) for s in merged] == [(2, "earlier\nlater", 0.9), (1, "other page", 0.8)]


def test_a_page_with_several_matching_chunks_outranks_one_lucky_chunk():
    from rag.fusion import merge_same_page
    from rag.types import Source

    def src(page, index, score):
        return Source("d", "f.pdf", page, f"p{page} c{index}", score, chunk_id=f"d:{page}:{index}")

    # page 7: one chunk at the top; page 3: three chunks just below it (a table split into rows)
    sources = [src(7, 0, 0.030), src(3, 1, 0.028), src(3, 2, 0.027), src(3, 3, 0.026), src(3, 4, 0.025)]
    plain = merge_same_page(sources)
    assert [s.page for s in plain] == [7, 3] and plain[1].score == 0.028
    weighed = merge_same_page(sources, evidence_weight=0.3, evidence_chunks=3)
    assert [s.page for s in weighed] == [3, 7]
    assert abs(weighed[0].score - (0.028 + 0.3 * (0.027 + 0.026))) < 1e-12  # the fourth chunk does not count
    assert weighed[0].text == "p3 c1\np3 c2"  # still two chunks of text per page
