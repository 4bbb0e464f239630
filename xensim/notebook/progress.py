"""A progress bar for long runs in a notebook (or a terminal): ``host.run(ms=..., progress=True)``.

The run is cut into at most :data:`STEPS` pieces of simulated time and the bar (tqdm's
``tqdm.auto``: a widget in Jupyter, text elsewhere) advances after each.  Cutting a run
changes nothing in the simulation: SimPy's ``run(until=...)`` stops on an event of its own
at URGENT priority, which never reorders the model's events; the only trace of the cuts is
the ``events`` count of :meth:`~xensim.host.Host.metrics`, which includes those stops (one
per piece), as it does for the host daemon's paced steps.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xensim.hypervisor.time import MILLISECS, SimTime

if TYPE_CHECKING:
    from xensim.host import Host

STEPS = 100
"""Pieces a run is cut into: smooth enough for a bar, few enough to cost nothing."""
MIN_STEP_NS = MILLISECS(1)


class ProgressUnavailable(ImportError):
    """``progress=True`` without tqdm installed."""


def run_with_progress(host: Host, delta_ns: SimTime) -> None:
    """Advance *host* by *delta_ns*, showing simulated milliseconds done on a bar."""
    try:
        from tqdm.auto import tqdm
    except ImportError:
        raise ProgressUnavailable("progress=True needs tqdm: pip install 'xensim[labs]'") \
            from None
    end = host.env.now + delta_ns
    step = max(MIN_STEP_NS, -(-delta_ns // STEPS))
    with tqdm(total=round(delta_ns / 1e6, 3), unit="ms", desc="simulating",
              leave=False) as bar:
        while host.env.now < end:
            before = host.env.now
            host.env.run(until=min(end, before + step))
            bar.update(round((host.env.now - before) / 1e6, 3))
