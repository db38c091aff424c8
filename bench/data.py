"""Loaders for the evaluation sets under ``--eval-dir`` (never copied into the repo).

The sets, described in ``<eval-dir>/README.md``:

* ``financebench/``: 12 SEC filings + ``questions.jsonl`` with 1-based gold evidence pages;
  ``financebench_more/``: 42 more filings in the same format.
* ``mmlongbench/``: 26 long reports, papers and manuals with gold pages.
* ``cast2021/``: TREC CAsT 2021 dialogues; each turn's canonical passage is the corpus.
* ``zh/``: a Chinese paper with single- and two-turn questions.

CAsT passages are plain text, but docchat only ingests PDFs, so ``write_passages_pdf``
renders one passage per page: the page number then *is* the passage id, and the
same page-level scoring works for every set.
"""

from __future__ import annotations

import json
import logging
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class GoldPage:
    """A gold (file stem, 1-based page) pair; file stems match across docchat and the recipe."""

    doc: str
    page: int


@dataclass
class FinanceQuestion:
    id: str
    doc_name: str
    question: str
    answer: str
    gold: set[GoldPage]
    question_type: str = ""  # FinanceBench: metrics-generated, domain-relevant, novel-generated


@dataclass
class FinanceBench:
    pdfs: list[Path]
    questions: list[FinanceQuestion]


@dataclass
class CastTurn:
    """One CAsT turn with the conversation before it (raw utterances + canonical passages)."""

    topic: int
    number: int
    raw: str
    manual: str
    passage: str
    history: list[tuple[str, str]] = field(default_factory=list)  # (user, assistant)


@dataclass
class ZhTurn:
    dialogue: str
    question: str
    pages: list[int]
    rewrite: str | None
    history: list[str] = field(default_factory=list)  # earlier user questions


def load_financebench(eval_dir: Path, limit: int | None = None) -> FinanceBench:
    """All 12 filings (they are indexed together) and the questions, optionally the first ``limit``."""
    finance = _load_finance_folder(Path(eval_dir) / "financebench")
    if limit:
        finance.questions = finance.questions[:limit]
    return finance


def _load_finance_folder(root: Path) -> FinanceBench:
    pdfs = sorted((root / "pdfs").glob("*.pdf"))
    questions = []
    for line in (root / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        gold = {GoldPage(e["doc_name"], int(e["page"])) for e in row["evidence"]}
        questions.append(
            FinanceQuestion(row["id"], row["doc_name"], row["question"], row["answer"], gold,
                            row.get("question_type", ""))
        )
    return FinanceBench(pdfs=pdfs, questions=questions)


@dataclass
class RetrievalSet:
    """PDFs indexed together and questions with gold pages: one row of the retrieval table."""

    name: str
    pdfs: list[Path]
    questions: list[FinanceQuestion]


def load_finance_set(eval_dir: Path, folder: str = "financebench") -> RetrievalSet:
    """``financebench/`` (the twelve) or ``financebench_more/`` (42 more), same format."""
    corpus = _load_finance_folder(Path(eval_dir) / folder)
    return RetrievalSet(folder, corpus.pdfs, corpus.questions)


def load_mmlongbench(eval_dir: Path) -> RetrievalSet:
    """26 long reports, papers and manuals; a question is found when a chunk is on one of its pages."""
    root = Path(eval_dir) / "mmlongbench"
    questions = []
    for i, line in enumerate((root / "questions.jsonl").read_text(encoding="utf-8").splitlines()):
        if not line.strip():
            continue
        row = json.loads(line)
        stem = row["doc"].rsplit(".", 1)[0]
        questions.append(FinanceQuestion(f"mmlb_{i}", stem, row["question"], str(row.get("answer", "")),
                                         {GoldPage(stem, int(p)) for p in row["pages"]}))
    return RetrievalSet("mmlongbench", sorted((root / "pdfs").glob("*.pdf")), questions)


def union(name: str, *sets: RetrievalSet) -> RetrievalSet:
    """Several sets indexed together (e.g. all 54 FinanceBench filings)."""
    pdfs = sorted({pdf for s in sets for pdf in s.pdfs}, key=lambda p: p.name)
    return RetrievalSet(name, pdfs, [q for s in sets for q in s.questions])


def load_cast(eval_dir: Path, topics: int | None = None) -> list[CastTurn]:
    """Every turn of the first ``topics`` dialogues (all 13 by default), with its history."""
    dialogues = json.loads((Path(eval_dir) / "cast2021" / "dialogues.json").read_text("utf-8"))
    turns: list[CastTurn] = []
    for dialogue in dialogues[:topics] if topics else dialogues:
        history: list[tuple[str, str]] = []
        for turn in dialogue["turn"]:
            turns.append(
                CastTurn(
                    topic=int(dialogue["number"]),
                    number=int(turn["number"]),
                    raw=turn["raw_utterance"],
                    manual=turn["manual_rewritten_utterance"],
                    passage=turn["passage"],
                    history=list(history),
                )
            )
            history.append((turn["raw_utterance"], turn["passage"]))
    return turns


def cast_passages(turns: list[CastTurn]) -> list[str]:
    """Unique passages in first-seen order; page i+1 of the corpus PDF holds passage i."""
    return list(dict.fromkeys(turn.passage for turn in turns))


def load_zh(eval_dir: Path) -> tuple[Path, list[ZhTurn]]:
    root = Path(eval_dir) / "zh"
    turns: list[ZhTurn] = []
    pdf = None
    for line in (root / "questions.jsonl").read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        pdf = root / row["doc"]
        asked: list[str] = []
        for turn in row["turns"]:
            turns.append(
                ZhTurn(row["id"], turn["q"], [int(p) for p in turn["pages"]], turn.get("rewrite"), list(asked))
            )
            asked.append(turn["q"])
    if pdf is None:
        raise FileNotFoundError(f"no questions in {root / 'questions.jsonl'}")
    return pdf, turns


# Helvetica in reportlab is latin-1 only; keep the common typographic marks readable.
_ASCII_PUNCT = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"',
                              "\u2013": "-", "\u2014": "-", "\u2026": "..."})


def write_passages_pdf(passages: list[str], path: Path) -> Path:
    """Render one passage per page (Helvetica, wrapped) so page number == passage index + 1."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    width, height = A4
    c = canvas.Canvas(str(path), pagesize=A4)
    for passage in passages:
        text = passage.translate(_ASCII_PUNCT).encode("latin-1", "replace").decode("latin-1")
        lines = [line for para in text.split("\n") for line in (textwrap.wrap(para, 95) or [""])]
        size, leading = (10, 13) if len(lines) <= 58 else (7, 9)
        y = height - 48
        c.setFont("Helvetica", size)
        for line in lines:
            if y < 36:
                log.warning("passage cut at the page end (%d lines)", len(lines))
                break
            c.drawString(40, y, line)
            y -= leading
        c.showPage()
    c.save()
    return path
