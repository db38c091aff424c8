"""Rank fusion's default weights, end to end on a real PDF: a page that only the keyword side
finds must still reach the top five.

A manual of thirty pages: twenty-nine on charging in other words (the bundled MiniLM's
favourites, sharing no keyword with the question) and one page of trademark notices whose last
line answers with the question's own words ("output current less than 1.5 A"). BM25 ranks that
page first, the dense model not among its five. With the dense ranking weighed twice BM25's (the
old default) every page of the dense top 20 outscored BM25's first page, so the answer never
reached the prompt: MMLongBench-Doc's headset-manual question, BENCHMARKS.md §2g.
"""

from pathlib import Path

import pytest

from rag.retriever import HybridRetriever
from rag.vector_store import SHARED_COLLECTION, ChromaStore
from settings import Settings
from tests.pdfs import make_pdf

QUESTION = "What happens if the USB AC adaptor supplies an output current less than 1.5 A?"
ANSWER_PAGE = 17
TOPICS = ("at home", "travelling", "in the office", "overnight", "in the car", "on a plane")


def _filler(i: int) -> str:
    """A page on the same subject in other words: the dense model's favourites, none of BM25's terms."""
    topic = TOPICS[i % len(TOPICS)]
    return (f"Powering your earphones from a wall charger, part {i} ({topic}). Plug the charger into a socket "
            f"and the earphones into the charger. A weak charger makes refilling the cell slower and the music "
            f"stops sooner. The lamp goes dark when the cell is full.")


# The answer is one line of a page about something else: its other lines are what the dense model sees.
ANSWER = ("Trademarks and licences. Bluetooth and its logos are registered trademarks owned by the Bluetooth "
          "SIG, Inc. and any use of such marks is under licence. LDAC and the LDAC logo are trademarks of the "
          "manufacturer. Android and Google Play are trademarks of Google LLC. iPhone and iPod touch are "
          "trademarks of Apple Inc., registered in the U.S. and other countries. App Store is a service mark "
          "of Apple Inc. The N-Mark is a trademark or registered trademark of NFC Forum, Inc. in the United "
          "States and in other countries. Other trademarks and trade names are those of their respective "
          "owners. The software is licensed under the terms of the end user licence agreement. A USB AC "
          "adaptor with an output current less than 1.5 A is not recommended.")


@pytest.fixture
def manual(make_kb, tmp_path: Path):
    pages = [_filler(i) for i in range(30)]
    pages[ANSWER_PAGE - 1] = ANSWER
    kb = make_kb()
    assert kb.add_file(make_pdf(tmp_path / "pdfs" / "manual.pdf", pages)).status == "ready"
    store = ChromaStore(kb.settings.chroma_dir, kb.embedder.name, kb.embedder.dimension, SHARED_COLLECTION)
    return store, kb.keywords.scoped(""), kb.embedder


def test_a_page_only_bm25_ranks_reaches_the_top_five(manual):
    store, keywords, embedder = manual
    dense = [chunk.page for chunk, _ in store.query(embedder.embed_query(QUESTION), 20)]
    keyword_ids = [chunk_id for chunk_id, _ in keywords.query(QUESTION, 20)]
    assert store.get_chunks(keyword_ids[:1])[0].page == ANSWER_PAGE  # BM25: first
    assert ANSWER_PAGE not in dense[:5]  # the dense model: not among its five

    default = HybridRetriever(store, keywords, embedder)  # the settings' weight
    assert default.dense_weight == Settings.model_fields["dense_weight"].default
    assert ANSWER_PAGE in [s.page for s in default.search(QUESTION, k=5)]

    dense_heavy = HybridRetriever(store, keywords, embedder, dense_weight=2.0)
    assert ANSWER_PAGE not in [s.page for s in dense_heavy.search(QUESTION, k=5)]  # the weight decides
