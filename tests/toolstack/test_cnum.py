"""C's strtol/strtoul as glibc does them (the values below are glibc's, on x86-64)."""

from __future__ import annotations

import pytest

from xensim.toolstack.cnum import LONG_MAX, LONG_MIN, ULONG_MAX, ascii_uint, atoi, strtol, strtoul


@pytest.mark.parametrize(
    ("text", "base", "value", "end", "erange"),
    [
        ("42", 10, 42, 2, False),
        ("  -7x", 10, -7, 4, False),
        ("4abc", 10, 4, 1, False),
        ("abc", 10, 0, 0, False),
        ("", 10, 0, 0, False),
        ("٣", 10, 0, 0, False),  # only ASCII digits count
        ("0x1f", 0, 31, 4, False),
        ("0x", 0, 0, 1, False),  # "0" read, endptr at the x
        ("010", 0, 8, 3, False),
        ("08", 0, 0, 1, False),
        ("9223372036854775807", 10, LONG_MAX, 19, False),
        ("9223372036854775808", 10, LONG_MAX, 19, True),
        ("-9223372036854775809", 10, LONG_MIN, 20, True),
        ("9" * 5000, 10, LONG_MAX, 5000, True),
    ],
)
def test_strtol(text, base, value, end, erange):
    assert tuple(strtol(text, base)) == (value, end, erange)


def test_strtoul_wraps_a_minus_and_saturates():
    assert tuple(strtoul("-1")) == (ULONG_MAX, 2, False)
    assert tuple(strtoul("18446744073709551616")) == (ULONG_MAX, 20, True)
    assert tuple(strtoul("9" * 5000)) == (ULONG_MAX, 5000, True)


def test_ascii_uint_and_atoi():
    assert ascii_uint("12") == 12 and ascii_uint("٣") is None and ascii_uint("+1") is None
    assert ascii_uint("") is None and ascii_uint("9" * 5000) == ULONG_MAX
    assert atoi("12abc") == 12 and atoi("x") == 0 and atoi(None) == 0
    assert atoi("4294967297") == 1  # (int) truncation, as in C
