"""ccr.inputs: numbers and text from outside are parsed strictly and never raise."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccr.inputs import INT_MAX, parse_id, parse_int, text_problem


@pytest.mark.parametrize(
    "raw", ["²", "1²", "+5", " 5", "5 ", "5_000", "٣", "1e3", "0x10", "", "-1", str(INT_MAX + 1),
            "9" * 20, 2**70, 1e308, True, None, [1], {"id": 1}, 1.0]
)  # fmt: skip
def test_what_is_not_a_plain_number_in_range_is_no_id(raw):
    assert parse_id(raw) is None


@pytest.mark.parametrize("raw, expected", [("1", 1), ("0042", 42), (str(INT_MAX), INT_MAX), (7, 7)])
def test_plain_ascii_numbers_in_range_are_ids(raw, expected):
    assert parse_id(raw) == expected


def test_bounds_are_the_callers():
    assert parse_int("0") == 0 and parse_id("0") is None
    assert parse_int("11", maximum=10) is None


@given(st.one_of(st.text(), st.integers(), st.floats(), st.none(), st.booleans()))
def test_parsing_never_raises_and_stays_in_range(raw):
    parsed = parse_int(raw)
    assert parsed is None or 0 <= parsed <= INT_MAX


@pytest.mark.parametrize("text", ["a\x00b", "\x1b[31m", "x\x7f", "\x0c"])
def test_control_characters_are_a_problem(text):
    assert text_problem(text)


@pytest.mark.parametrize("text", ["plain", "line\nbreak\r\n\ttab", "émoji 🙂", ""])
def test_ordinary_text_is_fine(text):
    assert text_problem(text) is None
