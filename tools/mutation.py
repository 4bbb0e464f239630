"""``make mutation``: mutation-test the scheduling policies and core with the scheduler tests.

Runs mutmut (the ``dev`` extra; configured under ``[tool.mutmut]`` in
pyproject.toml: it mutates credit.py, credit_runq.py, credit2.py,
credit2_runq.py, rt.py, null.py and core.py and kills mutants with
``tests/hypervisor/sched/`` only) one file at a time, each run bounded by
``--minutes``, then prints the score per file from mutmut's own records
(``mutants/**/*.py.meta``).  Mutants not run before a file's time ran out are
reported as such, never counted as killed.

Usage: ``python tools/mutation.py [--minutes M] [--jobs N] [FILE ...]`` with
FILE among credit, credit_runq, credit2, credit2_runq, rt, null, core (default:
all), or ``--scores`` to print the table from a previous run.  A run names its
file's mutants by pattern, and mutmut runs again every mutant it is named: a
file's run always starts over (fastest mutants first).  ``--recheck`` runs only the
survivors (and the "other" ones) of a previous run again, against the tests as
they are now: what to do after writing tests for them.  ``--pending`` runs only
the mutants a previous bounded run did not reach, so a long file can be
finished in several sittings.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

FILES = ("credit", "credit_runq", "credit2", "credit2_runq", "rt", "null", "core")
META = Path("mutants/xensim/hypervisor/sched")
# mutmut's exit codes (mutmut/stats.py): 1 and 3 killed; 36, 24, -24, 152, 255 timeouts
# (killed too, as mutmut scores them); 0 survived; 5 and 33 no test reached it; None
# not run yet; 2 interrupted (not run); anything else (segfault, suspicious) is listed.
KILLED = {1, 3, 36, 24, -24, 152, 255}
SURVIVED = {0}
NO_TESTS = {5, 33}
NOT_RUN = {None, 2}


def run(files: list[str], minutes: float, jobs: int, only: str | None = None) -> None:
    """Run mutmut over each file in turn: all its mutants, or *only* its
    ``"survivors"`` or its ``"pending"`` (never run) ones."""
    for name in files:
        if only == "survivors":
            targets = survivors(name)
        elif only == "pending":
            targets = pending(name)
        else:
            targets = [f"xensim.hypervisor.sched.{name}.*"]
        if not targets:
            continue
        cmd = [sys.executable, "-m", "mutmut", "run", "--max-children", str(jobs), *targets]
        what = f"{len(targets)} {only} of" if only else "mutmut over"
        print(f"*** {what} {name}.py (at most {minutes:g} min)", flush=True)
        try:
            subprocess.run(cmd, timeout=minutes * 60, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            print(f"*** {name}.py: time is up; the rest stay unchecked", flush=True)


def _codes(name: str) -> dict[str, int | None]:
    meta = META / f"{name}.py.meta"
    return json.loads(meta.read_text())["exit_code_by_key"] if meta.exists() else {}


def scores(files: list[str]) -> list[tuple[str, int, int, int, int, int]]:
    """(file, mutants, killed, survived, no tests or other, not run) per file."""
    rows = []
    for name in files:
        codes = list(_codes(name).values())
        killed = sum(1 for c in codes if c in KILLED)
        survived = sum(1 for c in codes if c in SURVIVED)
        not_run = sum(1 for c in codes if c in NOT_RUN)
        rows.append((name, len(codes), killed, survived,
                     len(codes) - killed - survived - not_run, not_run))
    return rows


def survivors(name: str) -> list[str]:
    return sorted(k for k, c in _codes(name).items()
                  if c not in KILLED and c not in NOT_RUN)


def pending(name: str) -> list[str]:
    return sorted(k for k, c in _codes(name).items() if c in NOT_RUN)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="tools/mutation.py")
    p.add_argument("files", nargs="*", metavar="FILE",
                   help=f"among {', '.join(FILES)} (default: all)")
    p.add_argument("--minutes", type=float, default=20.0, help="time bound per file")
    p.add_argument("--jobs", type=int, default=2, help="mutants run at once")
    p.add_argument("--scores", action="store_true", help="only print the last scores")
    p.add_argument("--survivors", action="store_true", help="list surviving mutants")
    p.add_argument("--recheck", action="store_true",
                   help="run the survivors of the last run again with the current tests")
    p.add_argument("--pending", action="store_true",
                   help="run only the mutants a previous run did not reach")
    a = p.parse_args(argv)
    files = a.files or list(FILES)
    unknown = [f for f in files if f not in FILES]
    if unknown:
        p.error(f"unknown file(s) {', '.join(unknown)}; choose among {', '.join(FILES)}")
    if not a.scores and not a.survivors:
        only = "survivors" if a.recheck else "pending" if a.pending else None
        run(files, a.minutes, a.jobs, only)
    print(f"{'file':<16}{'mutants':>8}{'killed':>8}{'survived':>9}{'other':>8}"
          f"{'not run':>8}{'score':>8}")
    for name, total, killed, survived, other, not_run in scores(files):
        checked = total - not_run
        score = f"{100 * killed / checked:.1f}%" if checked else "-"
        print(f"{name + '.py':<16}{total:>8}{killed:>8}{survived:>9}{other:>8}"
              f"{not_run:>8}{score:>8}")
    if a.survivors:
        for name in files:
            for key in survivors(name):
                print(key)
    return 0


if __name__ == "__main__":
    sys.exit(main())
