"""A progress bar for long runs on a terminal: simulated time, events/s, ETA.

``xensim run`` and ``xensim compare`` wrap their work in :class:`RunProgress`.
A daemon thread samples the newest :class:`~xensim.host.Host` (each host
announces itself through :func:`note_host`) a few times a second, reading
only its clock and event counter, and draws a rich progress bar on stderr
once the work has taken more than :data:`SHOW_AFTER_S`.  It never schedules
an event or touches the simulation, so a run's results are the same with or
without it.  Quiet under ``-q`` and whenever stderr is not a terminal, so
scripts, pipes and tests see nothing.  (Sweeps have their own bar, over
runs: :func:`xensim.research.sweep.run_sweep`.)
"""

from __future__ import annotations

import sys
import threading
import time
import weakref
from types import TracebackType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.console import Console

    from xensim.host import Host

SHOW_AFTER_S = 1.5
"""Runs shorter than this never show a bar (no flicker for the quick ones)."""

SAMPLE_S = 0.25

_newest: weakref.ReferenceType[Host] | None = None
_hosts_made = 0


def note_host(host: Host) -> None:
    """Called by every new Host: the one a progress bar follows from now on."""
    global _newest, _hosts_made
    _newest = weakref.ref(host)
    _hosts_made += 1


def wanted(quiet: bool) -> bool:
    """Show progress unless asked not to or not on a terminal."""
    return not quiet and sys.stderr.isatty()


class RunProgress:
    """Progress of *runs* simulations of *run_ns* simulated ns each, as they happen."""

    def __init__(self, label: str, run_ns: int, runs: int = 1, enabled: bool = True,
                 console: Console | None = None) -> None:
        """*console* defaults to stderr's."""
        self.label = label
        self.console = console
        self.run_ns = max(1, run_ns)
        self.runs = runs
        self.enabled = enabled
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> RunProgress:
        if self.enabled:
            self._first_host = _hosts_made + 1
            self._thread = threading.Thread(target=self._watch, name="xensim-progress",
                                            daemon=True)
            self._thread.start()
        return self

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _watch(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

        from xensim.metrics import events_dispatched

        t0 = time.monotonic()
        bar: Progress | None = None
        task = None
        last: tuple[float, int] | None = None
        rate = 0.0
        while not self._stop.wait(SAMPLE_S):
            if time.monotonic() - t0 < SHOW_AFTER_S:
                continue
            if bar is None:
                bar = Progress(TextColumn("{task.description}"), BarColumn(),
                               TextColumn("{task.fields[sim]}"), TextColumn("{task.fields[rate]}"),
                               TimeRemainingColumn(),
                               console=self.console or Console(stderr=True),
                               transient=True)
                bar.start()
                task = bar.add_task(self.label, total=self.runs * self.run_ns, sim="", rate="")
            ref = _newest
            host = ref() if ref is not None else None
            done_runs = _hosts_made - self._first_host
            if host is None or done_runs < 0:
                bar.update(task, description=f"{self.label}: building the host")  # type: ignore[arg-type]
                continue
            now, events, wall = host.env.now, events_dispatched(host), time.monotonic()
            if last is not None and wall > last[0]:
                rate = max(0, events - last[1]) / (wall - last[0])
            last = (wall, events)
            run_label = f" (run {done_runs + 1}/{self.runs})" if self.runs > 1 else ""
            if now == 0:  # still building: domains are created before time starts
                run_label += f": {len(host.hv.domains)} domains created"
            bar.update(task, completed=done_runs * self.run_ns + min(now, self.run_ns),  # type: ignore[arg-type]
                       description=self.label + run_label,
                       sim=f"{now / 1e9:.2f}/{self.run_ns / 1e9:.2f} sim s",
                       rate=f"{rate:,.0f} events/s")
        if bar is not None:
            bar.stop()
