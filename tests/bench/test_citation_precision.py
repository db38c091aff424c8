"""The citation-precision metric of bench/citations.py on hand-made answers."""

from __future__ import annotations

from bench.citations import precision

PASSAGES = ["Box kites need a steady wind of about twenty kilometres per hour to climb.",
            "Pu-erh tea is fermented and aged in Yunnan province."]


def test_precision_counts_answers_whose_marks_all_point_to_supporting_passages(embedder):
    answers = [
        "Box kites need a steady wind of twenty kilometres per hour [1].",  # supported
        "Box kites climb in steady wind [1]. Pu-erh is brewed by penguins on the moon [2].",  # one unsupported
        "Pu-erh tea is aged in Yunnan.",  # no marks
    ]
    result = precision(answers, [PASSAGES] * 3, embedder)
    assert result["n"] == 3
    assert abs(result["answers_with_marks"] - 2 / 3) < 1e-9
    assert abs(result["precision"] - 1 / 3) < 1e-9
    assert result["precision_of_marked"] == 0.5


def test_an_answer_with_only_dangling_marks_counts_as_unmarked(embedder):
    result = precision(["Kites fly [7]."], [PASSAGES], embedder)
    assert result["answers_with_marks"] == 0 and result["precision_of_marked"] is None
