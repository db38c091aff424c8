"""A turn's calculations as plain text lines, for surfaces that carry only text (the
OpenAI-compatible route); JSON surfaces carry ``TurnResult.calculations`` itself and the UI
draws them with links (ui/source_viewer.py). Both read the same dicts, built in one place
(rag/calculator.py ``Calculation.to_dict``), and write numbers with ``number_text``."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from rag.calculator import format_result
from rag.language import is_chinese
from rag.types import TurnResult

HEADING = {"en": "Calculations (done by docchat, not the model):", "zh": "计算（由 docchat 完成，而非模型）："}
CHECKED = {"en": "operands checked against", "zh": "运算数已核对："}
FAILED = {"en": "could not be evaluated", "zh": "无法计算"}


def number_text(value: Any) -> str:
    """A result or operand as the answer writes it ("12.11", "1,234,567"); '?' for none."""
    try:
        return "?" if value is None else format_result(float(value))
    except (TypeError, ValueError):
        return str(value)


def calculation_line(calc: Mapping[str, Any], lang: str = "en") -> str:
    """'(4,396 - 3,921) / 4,396 * 100 = 10.81 — operands checked against [2]', or its flag."""
    sources = sorted({o["source"] for o in calc.get("operands", []) if o.get("source")})
    marks = "".join(f"[{n}]" for n in sources)
    line = f"{calc['expression'].strip()} = {number_text(calc.get('result'))}"
    if calc.get("result") is None:
        return f"{line} — {FAILED[lang]}: {calc.get('flag') or ''}".rstrip(": ")
    if calc.get("ok"):
        return f"{line} — {CHECKED[lang]} {marks}".rstrip()
    return f"{line} — ⚠ {calc.get('flag')}"


def calculations_text(calculations: Sequence[Mapping[str, Any]], lang: str = "en") -> str:
    """The block appended to a text-only answer; '' when nothing was computed."""
    if not calculations:
        return ""
    lines = [HEADING[lang], *(f"- {calculation_line(c, lang)}" for c in calculations)]
    return "\n\n" + "\n".join(lines)


def result_calculations_text(result: TurnResult | None) -> str:
    """``calculations_text`` of a turn's result, in the answer's language."""
    if result is None or not result.calculations:
        return ""
    return calculations_text(result.calculations, "zh" if is_chinese(result.text) else "en")
