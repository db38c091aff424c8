"""The calculator: plain arithmetic evaluated, everything else refused quickly, and each
operand of a calculation found in the passage that prints it (or flagged)."""

from __future__ import annotations

import json
import time

import pytest

from rag.calculator import (
    CALC_CLOSE, CALC_OPEN, FLAG_FAILED, FLAG_NOT_FOUND, CalculationError, calculate, evaluate,
    find_calculations, format_result,
)

# A statement page as pypdf reads it (shapes from FinanceBench 10-Ks: "$" on its own,
# negatives in parentheses, the scale in the header).
INCOME = """ADOBE INC.
CONSOLIDATED STATEMENTS OF INCOME
(In millions, except per share data)
Years Ended December 2, 2022 December 3, 2021
Total revenue
$
17,606 $
15,785
Operating income
6,098
5,802
Other income (expense), net
(40)
(43)
Diluted net income per share $ 10.10 $ 10.02
"""
BALANCE = """CONSOLIDATED BALANCE SHEETS (In millions)
Total current assets 8,996 9,844
Total current liabilities 8,128 6,932
Accounts payable 312 376
"""
PROSE = "Net card fees increased 17 percent, and operating margin was 34.6% in fiscal 2022."


@pytest.mark.parametrize("expression, value", [
    ("(17,606 - 15,785) / 15,785 * 100", (17606 - 15785) / 15785 * 100),
    ("6,098 / 17,606", 6098 / 17606),
    ("1,234.5 + .5", 1235.0),
    ("-(40) + 3", -37.0),
    ("12% * 1,000", 120.0),  # a percentage is its fraction
    ("6,098 × 2 ÷ 4 − 1", 6098 * 2 / 4 - 1),  # the signs a model may write
    ("（８，９９６－８，１２８）", 868.0),  # full-width forms, as in a Chinese answer
    ("$17,606 - $15,785", 1821.0),
    ("2 x 3", 6.0),
    ("(1 + 0.05) ** (1 / 2)", 1.05 ** 0.5),  # a two-year CAGR
    ("2 ^ 10", 1024.0),
    ("round(6,098 / 17,606 * 100, 1)", 34.6),
    ("abs(-40)", 40.0),
    ("max(8,996, 9,844)", 9844.0),
    ("min(312, 376)", 312.0),
    ("sum(312, 376, 1)", 689.0),
    ("avg(312, 376)", 344.0),
    ("avg([312, 376])", 344.0),
    ("sum(1,2,3)", 6.0),  # "1,2" is no thousands separator
    ("365 * avg(312, 376) / 7,772 =", 365 * 344 / 7772),  # a trailing "=" is ignored
    ("17,606 - 15,785 = 1,821", 1821.0),  # the model's own result after "=" is dropped
    ("(17,606 - 15,785) / 15,785 * 100%", (17606 - 15785) / 15785 * 100),  # "* 100%" is a percentage
    ("4.4 billion / 2", 2.2e9),  # a scale word is the amount it names
    ("4,396M - 3,921M", 475e6),
    ("12.5亿 / 1万", 125_000.0),
])
def test_evaluates_arithmetic_as_pages_print_numbers(expression, value):
    assert evaluate(expression) == pytest.approx(value)


@pytest.mark.parametrize("expression, reason", [
    ("1" * 1_000_000, "longer than"),
    ("9**9**9", "exponent"),
    ("10 ** 400", "exponent"),
    ("1e300 * 10", "unknown name"),
    ("5 bn", "unknown name: bn"),  # a short scale only right after the number
    ("9" * 150 + " ** 32", "too large"),
    ("__import__('os').system('ls')", "only numbers"),
    ("().__class__.__bases__[0].__subclasses__()", "only numbers"),
    ("a.b", "unknown name: a"),
    ("revenue / 2", "unknown name: revenue"),
    ("open", "unknown name: open"),
    ("lambda: 1", "only numbers"),
    ("[x for x in (1, 2)]", "unknown name"),
    ("'abc' * 3", "only numbers"),
    ("max", "only numbers"),
    ("(1, 2)", "only numbers"),
    ("10 % 3", "malformed"),
    ("1 2", "malformed"),
    ("(1 + 2", "malformed"),
    ("(" * 13 + "1" + ")" * 13, "nested too deeply"),
    ("1 / 0", "division by zero"),
    ("6,098 / (17,606 - 17,606)", "division by zero"),
    ("(-8) ** (1 / 3)", "real number"),
    ("round(1.5, 2.5)", "whole number of decimals"),
    ("abs(1, 2)", "one number"),
    ("", "empty"),
])
def test_refuses_anything_but_plain_arithmetic_quickly(expression, reason):
    # CPU time of this thread, not wall time: a refusal computes nothing (no 9 ** 9 ** 9), which
    # a busy machine must not turn into a failure by making the test wait for a core
    started = time.thread_time()
    with pytest.raises(CalculationError, match=reason) as refused:
        evaluate(expression)
    assert time.thread_time() - started < 0.05
    assert "Traceback" not in str(refused.value) and "File " not in str(refused.value)


def test_calculation_finds_each_operand_in_the_passage_that_prints_it():
    calc = calculate("(17,606 - 15,785) / 15,785 * 100", [BALANCE, INCOME])
    assert calc.ok and calc.flag is None
    assert calc.result == pytest.approx(11.5362, abs=1e-4)
    assert [(o.value, o.text, o.source) for o in calc.operands] == [
        (17606.0, "17,606", 2), (15785.0, "15,785", 2), (15785.0, "15,785", 2)]
    assert calc.sources == [2]  # 100 is a constant, not an operand


def test_operands_from_two_passages_carry_both_marks_in_order():
    calc = calculate("(8,996 / 8,128) - 6,098 / 17,606", [INCOME, BALANCE])
    assert calc.ok
    assert calc.sources == [2, 1]


@pytest.mark.parametrize("expression", [
    "-40 / 6,098",  # printed "(40)": a negative used with its sign
    "40 / 6,098",  # ... or as its size
    "6,098,000,000 / 17,606,000,000",  # millions written out
    "6.098 / 17.606",  # in billions
    "0.346 * 17,606",  # a printed 34.6% as its fraction
    "17 / 100 * 15,785",  # "17 percent"
    "6,098M / 17.606 billion",  # scale words
])
def test_operands_are_found_after_normalisation(expression):
    assert calculate(expression, [INCOME, PROSE]).ok


def test_a_made_up_operand_is_flagged_and_the_result_still_computed():
    calc = calculate("(17,606 - 15,786) / 15,786 * 100", [INCOME])
    assert not calc.ok
    assert calc.flag == f"{FLAG_NOT_FOUND}: 15,786"
    assert calc.result == pytest.approx((17606 - 15786) / 15786 * 100)
    assert [o.source for o in calc.operands] == [1, None, None]
    assert calc.sources == [1]


def test_a_failed_calculation_is_a_flag_not_an_exception():
    calc = calculate("17,606 / (5,802 - 5,802)", [INCOME])
    assert (calc.ok, calc.result, calc.flag) == (False, None, f"{FLAG_FAILED}: division by zero")
    assert calculate("__import__('os')", [INCOME]).flag.startswith(FLAG_FAILED)


def test_constants_need_no_page():
    calc = calculate("365 * (312 + 376) / 2 / 12 * 100 / 1,000", [BALANCE])
    assert calc.ok
    assert [o.value for o in calc.operands] == [312.0, 376.0]
    assert not calculate("7 * 312", [BALANCE]).ok  # 7 is no constant and not printed


def test_to_dict_is_the_api_shape():
    calc = calculate("6,098 / 17,607", [INCOME])
    assert json.loads(json.dumps(calc.to_dict())) == {
        "expression": "6,098 / 17,607",
        "result": pytest.approx(6098 / 17607),
        "ok": False,
        "flag": f"{FLAG_NOT_FOUND}: 17,607",
        "operands": [{"value": 6098.0, "source": 1, "text": "6,098"},
                     {"value": 17607.0, "source": None, "text": "17,607"}],
    }
    failed = calculate("1/0", [INCOME]).to_dict()
    assert failed["result"] is None and failed["operands"] == []


def test_chinese_statement_operands():
    passage = "合并利润表\n单位：万元\n营业收入 123,456.78 98,765.43\n净利润 (1,234.5)"
    calc = calculate("（123,456.78 − 98,765.43）÷ 98,765.43 × 100", [passage])
    assert calc.ok and calc.sources == [1]
    assert calculate("1,234.5 / 123,456.78", [passage]).ok
    assert calculate("12.345678 / 9.876543", [passage]).ok  # 亿 instead of 万
    assert not calculate("1,235.5 / 123,456.78", [passage]).ok


@pytest.mark.parametrize("value, text", [
    (12.114256, "12.11"), (-3.5, "-3.5"), (1234567.0, "1,234,567"), (12345.678, "12,345.68"),
    (1234.5678, "1234.57"), (0.0123, "0.0123"), (0.657, "0.66"), (0.1, "0.1"), (0.0, "0"),
    (-0.0, "0"), (1e9, "1,000,000,000"), (1e-7, "0.0000001"), (93.8612, "93.86"), (9999.999, "10,000"), (-0.000123456, "-0.000123"),
])
def test_results_are_written_plainly(value, text):
    assert format_result(value) == text


def test_finds_the_calculations_in_a_finished_text():
    text = (f"Growth was {CALC_OPEN}(17,606 - 15,785) / 15,785 * 100{CALC_CLOSE} = 11.54% and the margin "
            f"{CALC_OPEN} 6,098 / 17,606 {CALC_CLOSE}.")
    assert find_calculations(text) == ["(17,606 - 15,785) / 15,785 * 100", "6,098 / 17,606"]
    assert find_calculations("no forms here, <calc>unclosed") == []


def test_an_operand_off_by_one_in_a_long_number_is_flagged():
    votes = "For 19,718,780 Against 977,228,788; a $4,200,000,000 revolving credit agreement"
    assert calculate("19,718,780 / 977,228,788", [votes]).ok
    assert not calculate("19,718,781 / 977,228,788", [votes]).ok
    assert not calculate("4,200,000,001 / 2", [votes]).ok
