"""C's ``strtol``/``strtoul`` (glibc, 64-bit ``long``), for numbers xl reads.

xl and libxlu read numbers with these, so the same text must give the same value,
the same "no digits" and the same ``ERANGE`` here: ``"4abc"`` is 4 with the rest
left over, ``"-1"`` through ``strtoul`` is ``ULONG_MAX``, a 5,000-digit number is
out of range (and costs nothing: at most 22 significant digits are ever converted),
and only ASCII digits count (``"٣"`` has none, whatever ``str.isdigit`` says).
"""

from __future__ import annotations

import re
from typing import NamedTuple

__all__ = [
    "INT_MAX", "LONG_MAX", "LONG_MIN", "ULONG_MAX", "Converted", "ascii_uint", "atoi",
    "strtol", "strtoul",
]

INT_MAX = 2**31 - 1
LONG_MAX = 2**63 - 1
LONG_MIN = -(2**63)
ULONG_MAX = 2**64 - 1
_LEAD = re.compile(r"[ \t\n\v\f\r]*([+-]?)")
_DIGITS = {
    8: re.compile(r"[0-7]*"),
    10: re.compile(r"[0-9]*"),
    16: re.compile(r"[0-9a-fA-F]*"),
}
_HEX_PREFIX = re.compile(r"0[xX][0-9a-fA-F]")
_MAX_SIGNIFICANT = 22  # more digits than any 64-bit value has, in base 8 or above


class Converted(NamedTuple):
    """What the C call gives: the value, where ``endptr`` points, and ``ERANGE``."""

    value: int
    end: int  # index of the first unread character; 0 when nothing was converted
    erange: bool

    def whole(self, text: str) -> bool:
        """True when *text* was a number and nothing else (``*endptr == 0``)."""
        return self.end == len(text) and self.end > 0


def _scan(text: str, base: int) -> tuple[int, int, int, bool]:
    """(sign, magnitude, end, too_big) of the number at the start of *text*."""
    lead = _LEAD.match(text)
    assert lead is not None  # every part may be empty
    pos = lead.end()
    sign = -1 if lead.group(1) == "-" else 1
    if base in (0, 16) and _HEX_PREFIX.match(text, pos):
        pos, base = pos + 2, 16
    elif base == 0:
        base = 8 if text.startswith("0", pos) else 10
    m = _DIGITS[base].match(text, pos)
    assert m is not None
    digits = m.group()
    if not digits:
        return 1, 0, 0, False
    significant = digits.lstrip("0")
    if len(significant) > _MAX_SIGNIFICANT:
        return sign, 0, m.end(), True
    return sign, int(significant or "0", base), m.end(), False


def strtol(text: str, base: int = 10) -> Converted:
    """``strtol(text, &endptr, base)`` for *base* 0, 8, 10 or 16."""
    sign, n, end, too_big = _scan(text, base)
    value = sign * n
    if too_big or value > LONG_MAX:
        return Converted(LONG_MIN if sign < 0 else LONG_MAX, end, True)
    if value < LONG_MIN:
        return Converted(LONG_MIN, end, True)
    return Converted(value, end, False)


def strtoul(text: str, base: int = 10) -> Converted:
    """``strtoul(text, &endptr, base)``: a minus sign negates modulo 2**64, as in C."""
    sign, n, end, too_big = _scan(text, base)
    if too_big or n > ULONG_MAX:
        return Converted(ULONG_MAX, end, True)
    return Converted(n if sign > 0 else (-n) & ULONG_MAX, end, False)


def ascii_uint(text: str) -> int | None:
    """*text* as an unsigned number when it is ASCII digits and nothing else (how xl and
    libxl test ``isdigit`` byte by byte), read by ``strtoul``; else None."""
    if not (text.isascii() and text.isdigit()):
        return None
    return strtoul(text).value


def atoi(text: str | None) -> int:
    """C's ``atoi``: ``(int)strtol(text, NULL, 10)``, 0 without digits, wrapped to 32 bits."""
    value = strtol(text or "").value
    return (value + 2**31) % 2**32 - 2**31
