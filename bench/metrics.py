"""Pure metrics: ranking quality, text overlap, gold figures, short answers, citations,
abstention, answer language, latency summaries.

No model, no I/O: every function here is a plain computation on lists and strings so
the smoke test can check it with hand-made inputs.
"""

from __future__ import annotations

import ast
import re
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any, Hashable, Iterable, Sequence

from rag.language import is_chinese

# "[1]", "[1, 2]", "[2，3]" (docchat's marks, rag/citations.py)
_CITATION = re.compile(r"\[(\d{1,2}(?:\s*[,，、]\s*\d{1,2})*)\]")


def first_hit_rank(ranked: Sequence[Hashable], gold: set) -> int | None:
    """1-based rank of the first retrieved item that is gold, or None."""
    for rank, item in enumerate(ranked, start=1):
        if item in gold:
            return rank
    return None


def recall_at_k(ranked: Sequence[Hashable], gold: set, k: int) -> float:
    """1.0 when any of the top ``k`` is gold (FinanceBench's 'found at k' rule), else 0.0."""
    rank = first_hit_rank(ranked, gold)
    return 1.0 if rank is not None and rank <= k else 0.0


def reciprocal_rank(ranked: Sequence[Hashable], gold: set) -> float:
    rank = first_hit_rank(ranked, gold)
    return 1.0 / rank if rank else 0.0


def ranking_summary(runs: Iterable[tuple[Sequence[Hashable], set]], ks: Sequence[int] = (1, 5)) -> dict:
    """Mean recall@k for each k and MRR over (ranked, gold) pairs."""
    runs = list(runs)
    if not runs:
        return {"n": 0, **{f"recall@{k}": 0.0 for k in ks}, "mrr": 0.0}
    out: dict = {"n": len(runs)}
    for k in ks:
        out[f"recall@{k}"] = sum(recall_at_k(r, g, k) for r, g in runs) / len(runs)
    out["mrr"] = sum(reciprocal_rank(r, g) for r, g in runs) / len(runs)
    return out


def normalize_number(token: str) -> str:
    """'$1,577.0' → '1577', '(34.60%)' → '34.6' — so figures compare by value, not format."""
    digits = token.strip("()$%-").replace(",", "").lstrip("$")
    if "." in digits:
        digits = digits.rstrip("0").rstrip(".")
    return digits


# A stated figure within 1% of a gold one counts: "$6.1 billion" for "$6,098 million".
FIGURE_TOLERANCE = 0.01
_SCALES = {"thousand": 1e3, "k": 1e3, "million": 1e6, "mn": 1e6, "mm": 1e6, "m": 1e6,
           "billion": 1e9, "bn": 1e9, "b": 1e9, "trillion": 1e12, "tn": 1e12}
_FIGURE = re.compile(
    r"(?<![\w.])[-(]?(?P<dollar>\$)?(?P<num>\d[\d,]*(?:\.\d+)?)"
    r"(?:(?P<pct>\s?(?:%|percent\b|per cent\b))"
    r"|\s?(?P<scale>trillion|billion|million|thousand|tn|bn|mn|mm|k|m|b)(?!\w))?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Figure:
    """A number as written: '$1,577 million' → value 1577, scale 1e6."""

    text: str  # the digits as written, e.g. '1,577'
    value: float  # unsigned: a figure stated as a decline is the same figure
    scale: float  # 1.0 without a scale word
    percent: bool
    year_like: bool  # a bare integer 1900-2100: a year, not a figure

    def values(self) -> set[float]:
        """What the figure may mean: as written, and in units when a scale word follows."""
        return {self.value, self.value * self.scale}


def figures(text: str) -> list[Figure]:
    """The numbers in ``text`` with their scale words; [n] citation marks are not numbers."""
    found = []
    for m in _FIGURE.finditer(_CITATION.sub(" ", text)):
        num = m.group("num")
        scale = _SCALES[m.group("scale").lower()] if m.group("scale") else 1.0
        bare = not (m.group("dollar") or m.group("pct") or m.group("scale")) and num.isdigit()
        found.append(Figure(num, float(num.replace(",", "")), scale, bool(m.group("pct")),
                            bare and 1900 <= int(num) <= 2100))
    return found


def _gold_figure_list(gold_answer: str, question: str) -> list[Figure]:
    asked = {f.value for f in figures(question)}
    return [f for f in figures(gold_answer) if not f.year_like and f.value not in asked]


def gold_figures(gold_answer: str, question: str = "") -> set[str]:
    """Numbers in the gold answer that are neither years nor already given in the question."""
    return {normalize_number(f.text) for f in _gold_figure_list(gold_answer, question)}


def figures_match(gold: Figure, said: Figure, tolerance: float = FIGURE_TOLERANCE) -> bool:
    """Same value within ``tolerance`` (relative to the gold). With a scale word on both
    sides the amounts compare ('1.577 billion' = '$1,577 million' ≠ '1,577 billion'); with
    one on one side only, the bare number may also be in that unit ('1,577' in a table in
    millions). A percentage never matches an amount with a scale word."""
    if (gold.percent and said.scale != 1.0) or (said.percent and gold.scale != 1.0):
        return False
    if gold.scale != 1.0 and said.scale != 1.0:
        pairs = [(gold.value * gold.scale, said.value * said.scale)]
    else:
        pairs = [(g, s) for g in gold.values() for s in said.values()]
    return any(abs(s - g) <= tolerance * abs(g) for g, s in pairs)


def contains_gold_figure(answer: str, gold_answer: str, question: str = "") -> bool | None:
    """Whether the answer states one of the gold figures (within 1%, any scale); None when
    the gold has none."""
    golds = _gold_figure_list(gold_answer, question)
    if not golds:
        return None
    said = [f for f in figures(answer) if not f.year_like]
    return any(figures_match(g, s) for g in golds for s in said)


def calculation_record(turn: Any, gold_answer: str = "", question: str = "") -> dict:
    """The calculator's part of one answer's record: how many calculations it made, how many
    evaluated, how many operands were found in the passages, whether a result equals the gold
    figure (1 %, any scale), and the figures the answer states that are neither printed in its
    passages nor computed from printed ones (rag/figures.py)."""
    from rag.figures import unaccounted

    calcs = list(getattr(turn, "calculations", None) or [])
    operands = [o for c in calcs for o in c.get("operands", [])]
    golds = _gold_figure_list(gold_answer, question) if gold_answer else []
    results = [c["result"] for c in calcs if c.get("result") is not None]
    text = getattr(turn, "text", "") or ""
    passages = [s.text for s in getattr(turn, "sources", None) or []]
    return {
        "calculations": len(calcs),
        "calculations_failed": sum(c.get("result") is None for c in calcs),
        "operands": len(operands),
        "operands_found": sum(o.get("source") is not None for o in operands),
        "calculation_correct": (any(figures_match(g, s) for g in golds for r in results
                                    for s in figures(f"{r:.6g}")) if golds and results else None),
        "unaccounted_figures": unaccounted(text, passages, results) if passages and text else [],
    }


def cited_indexes(answer: str, n_sources: int) -> list[int]:
    """0-based indexes of the context chunks an answer cites as [n], in order, valid ones only."""
    seen: list[int] = []
    for match in _CITATION.findall(answer):
        for number in re.findall(r"\d+", match):
            index = int(number) - 1
            if 0 <= index < n_sources and index not in seen:
                seen.append(index)
    return seen


def citation_correct(answer: str, source_pages: Sequence[Hashable], gold: set) -> tuple[bool, bool]:
    """(correct, explicit): is the cited page gold? Without a [n] marker the first source counts."""
    cited = cited_indexes(answer, len(source_pages))
    explicit = bool(cited)
    if not cited:
        cited = [0] if source_pages else []
    return any(source_pages[i] in gold for i in cited), explicit


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile (q in 0..100); 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def latency_summary(seconds: Sequence[float]) -> dict:
    """p50/p95/mean in milliseconds."""
    return {
        "n": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000,
        "p95_ms": percentile(seconds, 95) * 1000,
        "mean_ms": (statistics.fmean(seconds) * 1000) if seconds else 0.0,
    }


def text_overlap(hypotheses: Sequence[str], references: Sequence[str]) -> dict:
    """Corpus BLEU and chrF (sacrebleu) of answers against one reference each."""
    import sacrebleu

    refs = [list(references)]
    return {
        "bleu": sacrebleu.corpus_bleu(list(hypotheses), refs).score,
        "chrf": sacrebleu.corpus_chrf(list(hypotheses), refs).score,
    }


# --- short answers (MMLongBench-Doc), SQuAD-style ------------------------------------
_TOKEN = re.compile(r"\d+(?:\.\d+)?|\w+")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3}\b)")
_ARTICLES = frozenset({"a", "an", "the"})


def answer_tokens(text: str) -> list[str]:
    """SQuAD's normalisation: lower case, punctuation and articles dropped; also [n] marks
    dropped, thousands separators removed and decimal points kept (35,000 = 35000, 3.65 ≠ 365)."""
    text = _THOUSANDS.sub("", _CITATION.sub(" ", text).lower())
    return [t for t in _TOKEN.findall(text) if t not in _ARTICLES]


def normalize_answer(text: str) -> str:
    return " ".join(answer_tokens(text))


def gold_items(gold: str) -> list[str]:
    """A gold answer written as a Python list ("['a', 'b']", "[2005, 2006]") → its items."""
    text = gold.strip()
    if text.startswith("[") and text.endswith("]"):
        try:
            value = ast.literal_eval(text)
        except (ValueError, SyntaxError):
            value = None
        if isinstance(value, (list, tuple)):
            return [str(v) for v in value]
    return [text]


def exact_match(answer: str, gold: str) -> float:
    """1.0 when the normalised answer is the normalised gold (a list's items in order)."""
    return float(answer_tokens(answer) == answer_tokens(" ".join(gold_items(gold))))


def token_f1(answer: str, gold: str) -> float:
    """SQuAD token F1 between the normalised answer and gold."""
    pred, ref = answer_tokens(answer), answer_tokens(" ".join(gold_items(gold)))
    if not pred or not ref:
        return float(pred == ref)
    same = sum((Counter(pred) & Counter(ref)).values())
    if not same:
        return 0.0
    precision, recall = same / len(pred), same / len(ref)
    return 2 * precision * recall / (precision + recall)


def gold_in_answer(answer: str, gold: str) -> bool:
    """Every gold item appears in the answer as a run of whole normalised tokens
    ("Yes, CFCs do [2]." holds "Yes"; "13" is not found in "130")."""
    said = answer_tokens(answer)
    items = [answer_tokens(item) for item in gold_items(gold)]
    items = [t for t in items if t]
    return bool(items) and all(
        any(said[i:i + len(t)] == t for i in range(len(said) - len(t) + 1)) for t in items
    )


# --- citations, abstention, language, speed of one answer ----------------------------
def cites_gold(answer: str, source_pages: Sequence[Hashable], gold: set) -> bool:
    """Whether one of the passages the answer marks with [n] comes from a gold page (no mark: False)."""
    return any(source_pages[i] in gold for i in cited_indexes(answer, len(source_pages)))


def answered_in_chinese(answer: str) -> bool:
    """rag.language's test on the answer without its [n] marks."""
    return is_chinese(_CITATION.sub("", answer))


def decode_tokens_per_s(completion_tokens: int, first_token_s: float | None, generate_s: float | None) -> float | None:
    """Tokens after the first one per second after the first one; None when not measurable."""
    if not first_token_s or not generate_s or completion_tokens < 2 or generate_s <= first_token_s:
        return None
    return (completion_tokens - 1) / (generate_s - first_token_s)


def _share(flags: Sequence[bool]) -> float | None:
    return sum(1 for f in flags if f) / len(flags) if flags else None


def _mean(values: Sequence[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return statistics.fmean(values) if values else None


def _median(values: Sequence[float | None]) -> float | None:
    values = [v for v in values if v is not None]
    return percentile(values, 50) if values else None


def answer_summary(records: Sequence[dict], gold_answers: bool = True) -> dict:
    """One row of the answer table (one set, one system) from its per-question records.

    A record has ``answerable``, ``abstained``, ``correct`` (None when the question cannot
    be scored: no gold figure, no gold answer), ``em`` and ``f1`` (None unless short
    answers), ``n_sources``, ``cited`` (passage numbers marked), ``cited_gold``,
    ``chinese_question``, ``chinese_answer``, ``seconds`` and, when the pipeline measured
    them, ``ttft_s``, ``decode_tokens_per_s``, ``prompt_tokens`` (else None).
    Citations are judged on the correct answers; in a set without ``gold_answers`` (zh),
    on every answer that did not abstain. Shares over no questions are None.
    """
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    scored = [r for r in answerable if r["correct"] is not None]
    with_passages = [r for r in answerable if r["n_sources"] and not r["abstained"]]
    judged = [r for r in scored if r["correct"] and r["n_sources"]] if gold_answers else with_passages
    chinese = [r for r in records if r["chinese_question"]]
    return {
        "answerable": len(answerable),
        "unanswerable": len(unanswerable),
        "scored": len(scored),
        "correct": _share([r["correct"] for r in scored]),
        "em": _mean([r["em"] for r in answerable]),
        "f1": _mean([r["f1"] for r in answerable]),
        "with_marks": _share([bool(r["cited"]) for r in with_passages]),
        "cited_gold": _share([r["cited_gold"] for r in judged]),
        "cited_gold_n": len(judged),
        "abstention": _share([r["abstained"] for r in unanswerable]),
        "false_abstention": _share([r["abstained"] for r in answerable]),
        "chinese_answers": _share([r["chinese_answer"] for r in chinese]),
        "ttft_p50_s": _median([r["ttft_s"] for r in records]),
        "decode_tokens_per_s": _median([r["decode_tokens_per_s"] for r in records]),
        "prompt_tokens": _mean([r["prompt_tokens"] for r in records]),
        "seconds_per_answer": _mean([r["seconds"] for r in records]),
        **_calculation_summary(records),
    }


def _calculation_summary(records: Sequence[dict]) -> dict:
    """The calculator's columns: answers that computed, operands found in the passages,
    results equal to the gold figure, failed expressions, answers stating a figure printed
    nowhere and computed from nothing, and the gold figure by FinanceBench question type."""
    computed = [r for r in records if r.get("calculations")]
    by_type: dict[str, list] = {}
    for r in records:
        if r.get("question_type") and r.get("correct") is not None:
            by_type.setdefault(r["question_type"], []).append(r["correct"])
    return {
        "computed": len(computed),
        "calculations": sum(r.get("calculations", 0) for r in records),
        "calculations_failed": sum(r.get("calculations_failed", 0) for r in records),
        "operands_found": _share([True] * sum(r.get("operands_found", 0) for r in records)
                                 + [False] * sum(r.get("operands", 0) - r.get("operands_found", 0) for r in records)),
        "calculation_correct": sum(bool(r.get("calculation_correct")) for r in records),
        "unaccounted_answers": sum(bool(r.get("unaccounted_figures")) and not r.get("abstained") for r in records),
        "correct_by_type": {k: f"{sum(v)}/{len(v)}" for k, v in sorted(by_type.items())},
    }
