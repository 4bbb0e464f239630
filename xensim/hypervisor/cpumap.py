"""xl's cpumap syntax: ``"0-3,^2"``, ``"all"``, ``"nodes:0"``, or a list of those.

Mirrors: tools/xl/xl_parse.c (parse_cpurange, update_cpumap_range).  A range
adds pCPUs, a ``^`` prefix removes them, entries apply left to right.  The
simulated host is one NUMA node unless told otherwise, so ``nodes:N`` maps
onto the pCPUs of node N given ``cpus_per_node``.
"""

from __future__ import annotations

from collections.abc import Iterable


class CpumapError(ValueError):
    """A cpumap string that xl would reject; the message says why."""


_MAX_DIGITS = 9  # a pCPU number is a C int in xl


def _parse_range(text: str, limit: int) -> range:
    if "-" in text:
        lo_s, hi_s = text.split("-", 1)
    else:
        lo_s = hi_s = text
    # ASCII digits only, as xl's strtoul reads them (int() would take "٣", " 1" or "1_0").
    if not all(s.isascii() and s.isdigit() for s in (lo_s, hi_s)):
        raise CpumapError(f"invalid cpu range {text!r}: expected N or N-M")
    if len(hi_s.lstrip("0")) > _MAX_DIGITS:  # no host has that many pCPUs; don't convert it
        raise CpumapError(f"cpu {hi_s[:_MAX_DIGITS]}... out of range: the host has {limit} "
                          f"pCPUs (0-{limit - 1})")
    if len(lo_s.lstrip("0")) > _MAX_DIGITS:  # then lo > hi
        raise CpumapError(f"invalid cpu range {text!r}: start must be <= end")
    lo, hi = int(lo_s), int(hi_s)
    if lo < 0 or hi < lo:
        raise CpumapError(f"invalid cpu range {text!r}: start must be <= end")
    if hi >= limit:
        raise CpumapError(f"cpu {hi} out of range: the host has {limit} pCPUs (0-{limit - 1})")
    return range(lo, hi + 1)


def parse_cpumap(spec: str | int | Iterable[str | int], nr_cpus: int,
                 cpus_per_node: int | None = None) -> frozenset[int]:
    """Turn an xl cpumap into the set of pCPU numbers it names.

    *spec* may be a string (``"0-3,^2"``), a single int, or a list of either
    (xl.cfg's ``cpus = ["0", "2-3"]``).  Raises :class:`CpumapError`.
    """
    if isinstance(spec, int):
        items: list[str] = [str(spec)]
    elif isinstance(spec, str):
        items = [s.strip() for s in spec.split(",")]
    else:
        items = []
        for entry in spec:
            items.extend(s.strip() for s in str(entry).split(","))
    per_node = cpus_per_node or nr_cpus
    cpus: set[int] = set()
    for item in items:
        if not item:
            raise CpumapError("empty entry in cpumap")
        negate = item.startswith("^")
        body = item[1:] if negate else item
        if body == "all":
            chosen: Iterable[int] = range(nr_cpus)
        elif body.startswith("nodes:") or body.startswith("node:"):
            nodes = _parse_range(body.split(":", 1)[1], (nr_cpus + per_node - 1) // per_node)
            chosen = [c for n in nodes
                      for c in range(n * per_node, min((n + 1) * per_node, nr_cpus))]
        else:
            chosen = _parse_range(body, nr_cpus)
        if negate:
            cpus.difference_update(chosen)
        else:
            cpus.update(chosen)
    if not cpus:
        raise CpumapError(f"cpumap {spec!r} selects no pCPU")
    return frozenset(cpus)


def format_cpumap(cpus: Iterable[int], nr_cpus: int) -> str:
    """Render as xl does in ``vcpu-list``: ``all``, or ranges like ``0-3,6``."""
    s = set(cpus)
    return "all" if len(s) == nr_cpus else cpulist(s) or "none"


def cpulist(cpus: Iterable[int]) -> str:
    """Ranges like ``0-3,6`` (Xen's ``%*pbl``; empty for no CPU)."""
    s = sorted(set(cpus))
    parts: list[str] = []
    i = 0
    while i < len(s):
        j = i
        while j + 1 < len(s) and s[j + 1] == s[j] + 1:
            j += 1
        parts.append(str(s[i]) if i == j else f"{s[i]}-{s[j]}")
        i = j + 1
    return ",".join(parts)
