"""One-shot timers that can be re-armed and cancelled, as Xen's ``struct timer``.

SimPy's :class:`~simpy.events.Timeout` cannot be cancelled, so a timer keeps a
generation counter: arming or stopping bumps it, and an expiry whose
generation is stale does nothing.  Each pCPU owns a few of these (the
scheduler's slice timer, the guest work timer, a policy's tick), which keeps
the event count near one SimPy event per scheduling decision.

Mirrors: xen/common/timer.c (set_timer, stop_timer); simplified: no heap of
our own, SimPy's queue orders expiries (FIFO among equal times, so runs are
deterministic).
"""

from __future__ import annotations

from collections.abc import Callable

from simpy import Environment
from simpy.events import Timeout

from xensim.hypervisor.time import SimTime


class Timer:
    """A re-armable one-shot timer calling *fn()* at its expiry.

    Re-arming to a *later* time keeps the event already queued: when it fires
    early it re-queues itself for the new expiry.  Slice and work timers are
    pushed later at almost every scheduling decision, so this halves the
    SimPy events they cost (NOTE: for speed, see benchmarks/bench_host.py).
    """

    __slots__ = ("env", "fn", "gen", "expires", "active", "queued_at")

    def __init__(self, env: Environment, fn: Callable[[], None]) -> None:
        self.env = env
        self.fn = fn
        self.gen = 0
        self.expires: SimTime = -1
        self.active = False
        self.queued_at: SimTime = -1
        """When the live queued event fires (-1: none queued)."""

    def set(self, when: SimTime) -> None:
        """Arm (or re-arm) the timer to fire at absolute time *when*."""
        self.expires = when
        self.active = True
        if 0 <= self.queued_at <= when:
            return  # the queued event fires first and re-queues for *when*
        self._queue(when)

    def _queue(self, when: SimTime) -> None:
        self.gen += 1
        self.queued_at = when
        delay = when - self.env._now  # type: ignore[attr-defined]
        ev = Timeout(self.env, delay if delay > 0 else 0, self.gen)
        ev.callbacks.append(self._fire)  # type: ignore[union-attr]

    def stop(self) -> None:
        self.active = False

    def _fire(self, ev: Timeout) -> None:
        if ev._value != self.gen:
            return  # superseded by an earlier expiry queued after it
        self.queued_at = -1
        if not self.active:
            return
        if self.expires > self.env._now:  # type: ignore[attr-defined]
            self._queue(self.expires)
            return
        self.active = False
        self.fn()
