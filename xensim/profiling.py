"""``xensim run --profile``: where the wall time of a run went.

Runs the scenario under :mod:`cProfile` and prints, on stderr, the wall time
of building the host against running it, the events per second, and the
functions that took the most time themselves, grouped by module first so a
researcher sees at a glance whether the policy, the guests' I/O or SimPy's
loop dominates.  The profiler slows the run down about twofold but changes
no result.
"""

from __future__ import annotations

import cProfile
import pstats
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

TOP = 15


def _where(filename: str) -> str:
    """A short module name: ``xensim/hypervisor/sched/credit.py``, ``simpy/core.py``."""
    if filename == "~":
        return "(built-in functions)"
    parts = Path(filename).parts
    for root in ("site-packages", "xensim"):
        if root in parts:
            at = len(parts) - 1 - parts[::-1].index(root)
            return "/".join(parts[at + (root == "site-packages"):])
    return filename if filename.startswith("<") else Path(filename).name


def profile_call(fn: Callable[[], Any], out: TextIO) -> Any:
    """Call *fn* under the profiler and print the report to *out*; returns its result."""
    prof = cProfile.Profile()
    result = prof.runcall(fn)
    stats = pstats.Stats(prof)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0
    by_module: dict[str, float] = defaultdict(float)
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in raw.items():
        by_module[_where(filename)] += tottime
    out.write(f"profile: {total:.2f} s of wall time inside Python functions\n")
    out.write("  by module (own time):\n")
    for mod, secs in sorted(by_module.items(), key=lambda kv: -kv[1])[:TOP]:
        out.write(f"    {secs:8.3f} s {100 * secs / total:5.1f}%  {mod}\n")
    out.write("  by function (own time, calls):\n")
    rows = sorted(raw.items(), key=lambda kv: -kv[1][2])[:TOP]
    for (filename, line, name), (_cc, ncalls, tottime, _ct, _callers) in rows:
        out.write(f"    {tottime:8.3f} s {100 * tottime / total:5.1f}% {ncalls:>10,}  "
                  f"{_where(filename)}:{line}({name})\n")
    return result
