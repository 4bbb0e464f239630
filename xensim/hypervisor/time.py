"""Simulated time: an ``int`` of nanoseconds, as Xen's ``s_time_t``.

Mirrors: xen/include/xen/time.h (MILLISECS, MICROSECS, SECONDS).
Floats never enter the clock: every helper returns an ``int`` so that runs
are reproducible bit for bit.
"""

from __future__ import annotations

SimTime = int
"""Nanoseconds since the host booted."""

STIME_MAX: SimTime = (1 << 63) - 1


def NANOSECS(n: int) -> SimTime:
    return int(n)


def MICROSECS(us: int | float) -> SimTime:
    """Microseconds to ns; a float argument is rounded to the nearest ns."""
    return round(us * 1_000)


def MILLISECS(ms: int | float) -> SimTime:
    return round(ms * 1_000_000)


def SECONDS(s: int | float) -> SimTime:
    return round(s * 1_000_000_000)


def to_ms(t: SimTime) -> float:
    """For display only: never feed the result back into the clock."""
    return t / 1_000_000


def to_us(t: SimTime) -> float:
    return t / 1_000
