"""The model writes the arithmetic, docchat does it: a safe evaluator for ``<calc>`` forms.

A small model divides the wrong lines or drops a digit when it does arithmetic in its
head; asked to write ``<calc>(4,396 - 3,921) / 3,921 * 100</calc>`` instead, it only has
to copy figures from the page. ``calculate`` evaluates such an expression and checks
that every operand is printed in one of the passages (``rag.figures.find_value``), so
a reader sees which page each number came from and a made-up operand is flagged.

The evaluator is our own walk over Python's ``ast`` (about 60 lines) rather than
``simpleeval``: the grammar is five operators and six functions over numbers, which an
allowlist states in full, and it saves a dependency whose advisories are about the
names and modules we would never expose anyway. Before parsing, the text is bounded
(``MAX_LENGTH`` characters, ``MAX_DEPTH`` parentheses) and every character checked
against an allowlist, so ``__import__('os')``, ``().__class__``, ``a.b`` and a
megabyte of input are refused without being parsed. Numbers become floats (no huge
integers), ``**`` takes at most ``MAX_EXPONENT``, and a result that is not a finite
real number is refused.

What an expression may contain: numbers as pages print them ("4,396", "0.5", "$1.2";
"12%" is 0.12, as a page's percentage is a fraction; "4.4 billion", "4,396M", "12.5亿"
are the amounts they name), ``+ - * /`` (also ``× ÷ −`` and
``x`` between numbers), ``**`` or ``^``, parentheses, unary minus, and ``round abs
min max sum avg`` (``mean``/``average`` as aliases; ``min``/``max``/``sum``/``avg`` take
numbers or one list). A comma followed by exactly three digits is a thousands
separator, so write arguments with a space: ``max(1, 234)``, not ``max(1,234)``. What a
small model adds is forgiven: its own result after "=" is dropped, and a closing
"* 100%" means "* 100" (a percentage), not "* 1".
"""

from __future__ import annotations

import ast
import math
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

# CONSTANTS: the numbers an expression may use without a page (100, 365, 1,000, "/ 2", ...),
# left out of a calculation's operands; rag/figures.py keeps the list.
from rag.figures import CONSTANTS, find_value

CALC_OPEN = "<calc>"
CALC_CLOSE = "</calc>"
# Flag texts; the UI translates a flag by its prefix (what follows ": " is data).
FLAG_NOT_FOUND = "figure not found in the passages"
FLAG_FAILED = "calculation failed"

MAX_LENGTH = 300
MAX_DEPTH = 12
MAX_EXPONENT = 32
MAX_ROUND_DIGITS = 10

_CALC = re.compile(re.escape(CALC_OPEN) + r"(.*?)" + re.escape(CALC_CLOSE), re.S)
_SYMBOLS = str.maketrans({"×": "*", "÷": "/", "−": "-", "–": "-", "—": "-", "·": "*", "^": "**",
                          "$": None, "¥": None, "€": None, "£": None})
_TIMES_100_PERCENT = re.compile(r"\*\s*100\s*%\s*$")
_TIMES_X = re.compile(r"(?<=[\d)\s])[xX](?=[\s\d(])")
# "4,396", "1,234.5", "0.25", ".5", then maybe a percent sign (a percentage is its
# fraction) or a scale ("4.4 billion", "4,396M", "12.5亿" are the amounts they name).
_NUMBER = re.compile(r"(?<![\w.])(?P<number>(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+)(?:\.\d+)?|\.\d+)"
                     r"(?:\s*(?P<percent>%)|\s*(?P<word>thousand|million|billion|trillion)s?\b"
                     r"|(?P<short>bn|mn|[kmb])(?![a-z])|\s*(?P<cjk>万亿|亿|万))?", re.I)
_SCALES = {"thousand": 1e3, "million": 1e6, "billion": 1e9, "trillion": 1e12, "bn": 1e9, "mn": 1e6,
           "k": 1e3, "m": 1e6, "b": 1e9, "万亿": 1e12, "亿": 1e8, "万": 1e4}
_ALLOWED_CHARS = re.compile(r"[\d\s.,+\-*/()\[\]A-Za-z]*")
_WORD = re.compile(r"[A-Za-z]+")
_OPERATORS: dict[type, Callable[[float, float], float]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a ** b,
}
_FUNCTIONS: dict[str, Callable[[list[float]], float]] = {
    "abs": lambda xs: abs(_one(xs)),
    "min": min,
    "max": max,
    "sum": math.fsum,
    "avg": lambda xs: math.fsum(xs) / len(xs),
    "mean": lambda xs: math.fsum(xs) / len(xs),
    "average": lambda xs: math.fsum(xs) / len(xs),
    "round": lambda xs: _round(xs),
}
_ALLOWED = "numbers, + - * / ** ( ) and round, abs, min, max, sum, avg"


class CalculationError(ValueError):
    """Why an expression was not evaluated, in words fit for a reader."""


@dataclass
class Operand:
    value: float
    text: str  # as written in the expression
    source: int | None  # the 1-based passage that prints it; None when none does


@dataclass
class Calculation:
    expression: str
    result: float | None
    ok: bool  # evaluated, and every operand is printed in a passage
    flag: str | None  # None when ok; else why not (starts with FLAG_NOT_FOUND or FLAG_FAILED)
    operands: list[Operand] = field(default_factory=list)

    @property
    def sources(self) -> list[int]:
        """The passage numbers the operands come from, in order, without repeats."""
        found: list[int] = []
        for operand in self.operands:
            if operand.source is not None and operand.source not in found:
                found.append(operand.source)
        return found

    def to_dict(self) -> dict[str, Any]:
        """The calculation as every surface returns it (DESIGN.md §5)."""
        return {
            "expression": self.expression,
            "result": self.result,
            "ok": self.ok,
            "flag": self.flag,
            # "text": the operand as the expression writes it ("4,396"), an addition to §5's shape
            "operands": [{"value": o.value, "source": o.source, "text": o.text} for o in self.operands],
        }


def find_calculations(text: str) -> list[str]:
    """The expressions inside ``<calc>...</calc>`` in a finished text, stripped."""
    return [match.strip() for match in _CALC.findall(text)]


def evaluate(expression: str) -> float:
    """The value of ``expression``; ``CalculationError`` for anything but plain arithmetic."""
    return _evaluate(expression)[0]


def calculate(expression: str, passages: Sequence[str]) -> Calculation:
    """Evaluate ``expression`` and find each operand (constants aside) in ``passages``,
    numbered from 1 as the prompt numbers them. A failed evaluation is a flagged
    calculation without a result, never an exception."""
    try:
        result, numbers = _evaluate(expression)
    except CalculationError as error:
        return Calculation(expression, None, False, f"{FLAG_FAILED}: {error}", [])
    operands = [Operand(value, text, find_value(value, passages)) for value, text in numbers
                if abs(value) not in CONSTANTS]
    missing = list(dict.fromkeys(o.text for o in operands if o.source is None))
    flag = f"{FLAG_NOT_FOUND}: {', '.join(missing)}" if missing else None
    return Calculation(expression, result, not missing, flag, operands)


def format_result(value: float) -> str:
    """How a result is written into the answer: "12.11", "-3.5", "1,234,567", "0.0123".
    At most two decimals, thousands separators from 10,000, three significant digits
    below 0.1, never an exponent."""
    if not math.isfinite(value):
        return str(value)
    size = abs(value)
    if size == 0:
        return "0"
    if size >= 0.1:
        text = f"{value:,.2f}" if round(size, 2) >= 10_000 else f"{value:.2f}"
    else:
        text = f"{value:.{2 - math.floor(math.log10(size)) }f}"
    text = text.rstrip("0").rstrip(".") if "." in text else text
    return "0" if text in ("-0", "") else text


def _evaluate(expression: str) -> tuple[float, list[tuple[float, str]]]:
    """The value and the numbers of ``expression`` (value, text as written), in order."""
    if len(expression) > MAX_LENGTH:
        raise CalculationError(f"the expression is longer than {MAX_LENGTH} characters")
    text = _TIMES_X.sub("*", unicodedata.normalize("NFKC", expression).translate(_SYMBOLS))
    text = text.split("=")[0].strip()  # "17,606 - 15,785 = 1,821": the model's own result is dropped
    text = _TIMES_100_PERCENT.sub("* 100", text)  # "... * 100%" asks for a percentage, not a fraction
    if not text:
        raise CalculationError("the expression is empty")
    _check_form(_NUMBER.sub(" 0 ", text))
    numbers: list[tuple[float, str]] = []

    def as_literal(match: re.Match[str]) -> str:
        number = float(match.group("number").replace(",", ""))
        unit = match.group("word") or match.group("short") or match.group("cjk")
        value = number / 100 if match.group("percent") else number * (_SCALES[unit.lower()] if unit else 1)
        numbers.append((value, match.group(0)))
        return f" {value!r} "

    try:
        tree = ast.parse(_NUMBER.sub(as_literal, text).strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        raise CalculationError("the expression is malformed") from None
    try:
        result = _walk(tree.body)
    except ZeroDivisionError:
        raise CalculationError("division by zero") from None
    except (OverflowError, RecursionError):
        raise CalculationError("the result is too large") from None
    if isinstance(result, complex) or not math.isfinite(result):
        raise CalculationError("the result is not a finite real number")
    return float(result), numbers


def _check_form(skeleton: str) -> None:
    """Refuse, before parsing, what is not arithmetic: ``skeleton`` is the expression with
    each number replaced by 0, so only operators, brackets and function names are left."""
    if not _ALLOWED_CHARS.fullmatch(skeleton):
        raise CalculationError(f"only {_ALLOWED} are allowed")
    for word in _WORD.findall(skeleton):
        if word not in _FUNCTIONS:
            raise CalculationError(f"unknown name: {word}")
    depth = 0
    for char in skeleton:
        depth += {"(": 1, "[": 1, ")": -1, "]": -1}.get(char, 0)
        if depth > MAX_DEPTH:
            raise CalculationError("the expression is nested too deeply")


def _walk(node: ast.AST) -> float:
    if isinstance(node, ast.Constant) and type(node.value) is float:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _walk(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and type(node.op) in _OPERATORS:
        left, right = _walk(node.left), _walk(node.right)
        if isinstance(node.op, ast.Pow) and abs(right) > MAX_EXPONENT:
            raise CalculationError(f"the exponent is larger than {MAX_EXPONENT}")
        result = _OPERATORS[type(node.op)](left, right)
        if isinstance(result, complex):
            raise CalculationError("the result is not a real number")
        return result
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in _FUNCTIONS
            and not node.keywords and node.args):
        args: list[float] = []
        for arg in node.args:
            items = arg.elts if isinstance(arg, (ast.List, ast.Tuple)) else [arg]
            args.extend(_walk(item) for item in items)
        if not args:
            raise CalculationError(f"{node.func.id}() needs a number")
        return _FUNCTIONS[node.func.id](args)
    raise CalculationError(f"only {_ALLOWED} are allowed")


def _one(values: list[float]) -> float:
    if len(values) != 1:
        raise CalculationError("abs() takes one number")
    return values[0]


def _round(values: list[float]) -> float:
    if len(values) == 1:
        return float(round(values[0]))
    digits = values[1] if len(values) == 2 else -1.0
    if not (digits.is_integer() and 0 <= digits <= MAX_ROUND_DIGITS):
        raise CalculationError("round() takes a number and a whole number of decimals")
    return round(values[0], int(digits))
