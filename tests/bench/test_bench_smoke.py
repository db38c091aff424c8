"""Smoke run of ``python -m bench`` on a tiny generated corpus: the harness runs end to
end (docchat and the real LangChain recipe side by side, CAsT-style condensing with the
bundled chat model) and writes metrics, BENCHMARKS.md and plots. Speed is not asserted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.pdfs import make_pdf


def test_bench_extra_is_installed():
    """The LangChain side of the benchmark needs the bench extra (make test installs it)."""
    import importlib.util

    missing = [m for m in ("langchain_chroma", "langchain_classic") if importlib.util.find_spec(m) is None]
    assert not missing, f"{missing} not installed: pip install -e '.[bench]' (make test does it)"

CITIES = ("Lisbon", "Oslo", "Nairobi", "Lima", "Hanoi", "Quebec", "Perth", "Tunis", "Bergen")
TOPICS = ("the staff canteen menu", "the car park", "the office plants", "the fire drill schedule",
          "the lobby furniture", "the printer contract", "the company picnic", "the recycling bins")


def filler(index: int) -> str:
    """A page about something else: many of them, so only a retriever that ranks well finds the answer."""
    return (f"Notes on {TOPICS[index % len(TOPICS)]} at the {CITIES[index % len(CITIES)]} office. "
            f"Nothing in this section concerns results, income, margins or shareholders.")


# Two mountains with the same follow-up questions: a raw follow-up cannot tell them apart,
# the manual rewrite (which names the mountain) always can.
MOUNTAINS = {
    "Kilimanjaro": ("Kilimanjaro is 5,895 metres high, the tallest mountain in Africa.",
                    "It takes six to eight days to climb Kilimanjaro.",
                    "The best season for Kilimanjaro is the months of January, February and September."),
    "Mount Everest": ("Mount Everest is 8,849 metres high, the highest mountain on Earth.",
                      "It takes about two months to climb Mount Everest.",
                      "The best season for Mount Everest is the month of May, before the monsoon."),
}
QUESTIONS = ("How high is {}?", "How many days does it take to climb it?", "What about the best season?")
MANUAL = ("How high is {}?", "How many days does it take to climb {}?", "Which months are the best season for {}?")


@pytest.fixture(scope="module")
def eval_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A miniature copy of the eval layout: two filings among filler pages, two CAsT topics."""
    root = tmp_path_factory.mktemp("eval")
    pdfs = root / "financebench" / "pdfs"
    acme = [filler(i) for i in range(8)]
    acme[5] = "ACME operating income was $6,098 million in fiscal 2022 and the operating margin was 34.6 percent."
    globex = [filler(i + 3) for i in range(8)]
    globex[2] = "Globex returned capital to shareholders through dividends of $812 million in 2021."
    make_pdf(pdfs / "ACME_2022_10K.pdf", acme)
    make_pdf(pdfs / "GLOBEX_2021_10K.pdf", globex)
    questions = [
        {"id": "q1", "doc_name": "ACME_2022_10K", "question": "What was ACME's operating margin in fiscal 2022?",
         "answer": "34.6%", "question_type": "metrics",
         "evidence": [{"doc_name": "ACME_2022_10K", "page": 6, "evidence_text": ""}]},
        {"id": "q2", "doc_name": "GLOBEX_2021_10K", "question": "How much did Globex pay in dividends in 2021?",
         "answer": "$812 million", "question_type": "metrics",
         "evidence": [{"doc_name": "GLOBEX_2021_10K", "page": 3, "evidence_text": ""}]},
    ]
    (root / "financebench" / "questions.jsonl").write_text("\n".join(json.dumps(q) for q in questions) + "\n")
    cast = root / "cast2021"
    cast.mkdir()
    dialogues, passage_id = [], 0
    for number, (mountain, passages) in enumerate(MOUNTAINS.items(), start=1):
        turns = []
        for i, (raw, manual, passage) in enumerate(zip(QUESTIONS, MANUAL, passages)):
            turns.append({"number": i + 1, "raw_utterance": raw.format(mountain),
                          "manual_rewritten_utterance": manual.format(mountain), "passage": passage,
                          "canonical_result_id": f"P{passage_id}", "passage_id": passage_id})
            passage_id += 1
        dialogues.append({"number": number, "turn": turns})
    (cast / "dialogues.json").write_text(json.dumps(dialogues))
    return root


@pytest.fixture(scope="module")
def bench_run(eval_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[int, dict, Path]:
    from bench.__main__ import main

    out = tmp_path_factory.mktemp("bench-out")
    markdown = out / "BENCHMARKS.md"
    rc = main(["--eval-dir", str(eval_dir), "--quick", "--out", str(out), "--markdown", str(markdown),
               "--only", "indexing_speed,retrieval_quality,conversational", "--cast-topics", "2"])
    return rc, json.loads((out / "results.json").read_text()), markdown


def test_bench_runs_every_selected_measurement_without_error(bench_run):
    rc, results, _ = bench_run
    assert rc == 0, {k: v.get("error") for k, v in results.items() if isinstance(v, dict)}
    assert {"indexing_speed", "retrieval_quality", "conversational"} <= set(results)


def test_retrieval_quality_ranks_the_answer_page_first_among_fillers(bench_run):
    _, results, _ = bench_run
    quality = results["retrieval_quality"]
    assert quality["docchat"]["n"] == 2
    # 16 pages, one answer each: a retriever that does not rank by meaning misses at @1 and @5
    assert quality["docchat"]["recall@1"] == quality["docchat"]["recall@5"] == 1.0
    assert quality["recipe"]["recall@5"] == 1.0


def test_indexing_counts_pages_and_chunks_for_both_sides(bench_run):
    _, results, _ = bench_run
    sides = results["indexing_speed"]["sides"]
    assert sides["docchat"]["pages"] == sides["recipe"]["pages"] == 16
    assert sides["docchat"]["chunks"] >= 16 and sides["recipe"]["chunks"] >= 16
    assert sides["docchat"]["peak_rss_mb"] > 0


def test_conversational_scores_every_strategy(bench_run):
    _, results, _ = bench_run
    conv = results["conversational"]
    assert conv["turns"] == 6 and conv["followup_turns"] == 4 and conv["passages"] == 6
    for name in ("raw", "manual", "standalone", "standalone+raw", "standalone+raw+prev"):
        assert conv["all_turns"][name]["n"] == 6 and conv["followups"][name]["n"] == 4
    # the manual rewrite names the mountain: always first; the same raw follow-up asked about
    # both mountains can be first for one of them only
    assert conv["all_turns"]["manual"]["recall@1"] == 1.0
    assert conv["followups"]["raw"]["recall@1"] <= 0.5
    assert conv["best_strategy"] in ("standalone", "raw", "standalone+raw", "standalone+raw+prev")


def test_report_has_tables_and_plots(bench_run):
    _, _, markdown = bench_run
    text = markdown.read_text()
    assert "## 1. Retrieval quality" in text and "| docchat" in text
    assert (markdown.parent / "retrieval_quality.png").stat().st_size > 0
    assert (markdown.parent / "conversational.png").is_file()


def test_long_conversation_compares_its_last_turns_side_by_side_with_a_reference(eval_dir, tmp_path):
    """The reference conversation's turns 3-7 run interleaved with the main one's last five."""
    from bench.__main__ import main

    out = tmp_path / "out"
    rc = main(["--eval-dir", str(eval_dir), "--quick", "--out", str(out), "--markdown", str(out / "B.md"),
               "--only", "long_conversation", "--long-turns", "12"])
    result = json.loads((out / "results.json").read_text())["long_conversation"]
    assert rc == 0, result.get("error")
    main_rows, reference = result["rows"], result["reference_rows"]
    assert [r["turn"] for r in main_rows] == list(range(1, 13)) and [r["turn"] for r in reference] == list(range(1, 8))
    starts = sorted([("main", r["turn"], r["started_s"]) for r in main_rows[-5:]]
                    + [("reference", r["turn"], r["started_s"]) for r in reference[2:]], key=lambda x: x[2])
    assert [side for side, _, _ in starts] == ["reference", "main"] * 5
    assert main_rows[-1]["cached_prompt_tokens"] > 0  # the main conversation kept its own prefix cache
    assert result["ttft_ratio_last5_vs_reference_turns3to7"] > 0
    assert "Side by side" in (out / "B.md").read_text()
