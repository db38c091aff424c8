"""Smoke run of ``python -m bench`` on a tiny generated corpus: the harness runs end to
end (docchat and the real LangChain recipe side by side, CAsT-style condensing with the
bundled chat model) and writes metrics, BENCHMARKS.md and plots. Speed is not asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pdfs import make_pdf

pytest.importorskip("langchain_chroma", reason="bench extra not installed (pip install -e '.[bench]')")
pytest.importorskip("langchain_classic", reason="bench extra not installed (pip install -e '.[bench]')")

FILLER = "General remarks about the company, its history and its offices in several cities."


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A miniature copy of the eval layout: two filings, two questions, one CAsT topic."""
    root = tmp_path_factory.mktemp("eval")
    pdfs = root / "financebench" / "pdfs"
    make_pdf(pdfs / "ACME_2022_10K.pdf", [
        FILLER,
        "ACME operating income was $6,098 million in fiscal 2022 and the operating margin was 34.6 percent.",
        FILLER,
    ])
    make_pdf(pdfs / "GLOBEX_2021_10K.pdf", [
        "Globex returned capital to shareholders through dividends of $812 million in 2021.",
        FILLER,
    ])
    questions = [
        {"id": "q1", "doc_name": "ACME_2022_10K", "question": "What was ACME's operating margin in fiscal 2022?",
         "answer": "34.6%", "question_type": "metrics",
         "evidence": [{"doc_name": "ACME_2022_10K", "page": 2, "evidence_text": ""}]},
        {"id": "q2", "doc_name": "GLOBEX_2021_10K", "question": "How much did Globex pay in dividends in 2021?",
         "answer": "$812 million", "question_type": "metrics",
         "evidence": [{"doc_name": "GLOBEX_2021_10K", "page": 1, "evidence_text": ""}]},
    ]
    (root / "financebench" / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in questions) + "\n")
    cast = root / "cast2021"
    cast.mkdir()
    turns = [
        ("What is the tallest mountain in Africa?", "Kilimanjaro is the tallest mountain in Africa at 5,895 metres."),
        ("How long does it take to climb it?", "Most climbers need six to eight days to reach the summit of Kilimanjaro."),
        ("What about the best season?", "The best months to climb Kilimanjaro are January, February and September."),
    ]
    dialogue = {"number": 1, "turn": [
        {"number": i + 1, "raw_utterance": q, "manual_rewritten_utterance": q.replace("it", "Kilimanjaro"),
         "passage": p, "canonical_result_id": f"P{i}", "passage_id": i}
        for i, (q, p) in enumerate(turns)]}
    (cast / "dialogues.json").write_text(json.dumps([dialogue]))
    return root


@pytest.fixture(scope="module")
def bench_run(eval_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict, Path]:
    from bench.__main__ import main

    out = tmp_path_factory.mktemp("bench-out")
    markdown = out / "BENCHMARKS.md"
    rc = main(["--eval-dir", str(eval_dir), "--quick", "--out", str(out), "--markdown", str(markdown),
               "--only", "indexing_speed,retrieval_quality,conversational"])
    return rc, json.loads((out / "results.json").read_text()), markdown


def test_bench_runs_every_selected_measurement_without_error(bench_run):
    rc, results, _ = bench_run
    assert rc == 0, {k: v.get("error") for k, v in results.items() if isinstance(v, dict)}
    assert {"indexing_speed", "retrieval_quality", "conversational"} <= set(results)


def test_retrieval_quality_finds_the_obvious_pages_for_both_sides(bench_run):
    _, results, _ = bench_run
    quality = results["retrieval_quality"]
    assert quality["docchat"]["n"] == 2
    assert quality["docchat"]["recall@5"] == 1.0
    assert quality["recipe"]["recall@5"] == 1.0


def test_indexing_counts_pages_and_chunks_for_both_sides(bench_run):
    _, results, _ = bench_run
    sides = results["indexing_speed"]["sides"]
    assert sides["docchat"]["pages"] == sides["recipe"]["pages"] == 5
    assert sides["docchat"]["chunks"] > 0 and sides["recipe"]["chunks"] > 0
    assert sides["docchat"]["peak_rss_mb"] > 0


def test_conversational_scores_every_strategy(bench_run):
    _, results, _ = bench_run
    conv = results["conversational"]
    assert conv["turns"] == 3 and conv["followup_turns"] == 2
    for name in ("raw", "manual", "standalone", "standalone+raw", "standalone+raw+prev"):
        assert 0.0 <= conv["all_turns"][name]["recall@5"] <= 1.0
    assert conv["all_turns"]["manual"]["recall@5"] == 1.0


def test_report_has_tables_and_plots(bench_run):
    _, _, markdown = bench_run
    text = markdown.read_text()
    assert "## 1. Retrieval quality" in text and "| docchat" in text
    assert (markdown.parent / "retrieval_quality.png").stat().st_size > 0
    assert (markdown.parent / "conversational.png").is_file()
