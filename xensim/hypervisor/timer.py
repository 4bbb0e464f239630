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
from heapq import heappush
from typing import Any

from simpy import Environment
from simpy.events import NORMAL

from xensim.hypervisor.time import SimTime


class Expiry:
    """What xensim puts on SimPy's queue: the least an event needs to be stepped.

    ``Environment.step`` reads only ``callbacks`` and ``_ok`` of the event it
    pops, so a two-slot object does instead of a :class:`~simpy.events.Timeout`
    (whose constructor, with ``Environment.schedule``, is two calls more per
    event).  It takes the same place in the queue, with the same time,
    priority and event id, so the order of events and their count are those
    of a Timeout (NOTE: inlined for speed (see benchmarks/)).
    """

    __slots__ = ("callbacks", "_value")
    _ok = True

    def __init__(self, callbacks: Any, value: Any) -> None:
        self.callbacks = callbacks
        """A tuple of callables ``fn(event)``, shared by every expiry of one owner."""
        self._value = value


def queue_expiry(env: Environment, when: SimTime, callbacks: Any, value: Any) -> None:
    """``Timeout(env, max(when - now, 0), value)`` with *callbacks*, without a Timeout."""
    now = env._now  # type: ignore[attr-defined]
    heappush(env._queue, (when if when > now else now, NORMAL,  # type: ignore[attr-defined,misc]
                          next(env._eid), Expiry(callbacks, value)))  # type: ignore[attr-defined]


class Timer:
    """A re-armable one-shot timer calling *fn()* at its expiry.

    Re-arming to a *later* time keeps the event already queued: when it fires
    early it re-queues itself for the new expiry.  Slice and work timers are
    pushed later at almost every scheduling decision, so this halves the
    SimPy events they cost (NOTE: for speed, see benchmarks/bench_host.py).
    """

    __slots__ = ("env", "fn", "gen", "expires", "active", "queued_at", "_callbacks", "_heap",
                 "_ids")

    def __init__(self, env: Environment, fn: Callable[[], None]) -> None:
        self.env = env
        # NOTE: for speed (see benchmarks/): SimPy's queue and event-id counter, which an
        # Environment keeps for its whole life, read once instead of at every expiry.
        self._heap: list[Any] = env._queue  # type: ignore[attr-defined]
        self._ids: Any = env._eid  # type: ignore[attr-defined]
        self.fn = fn
        self.gen = 0
        self.expires: SimTime = -1
        self.active = False
        self.queued_at: SimTime = -1
        """When the live queued event fires (-1: none queued)."""
        self._callbacks = (self._fire,)

    def set(self, when: SimTime) -> None:
        """Arm (or re-arm) the timer to fire at absolute time *when*."""
        self.expires = when
        self.active = True
        if 0 <= self.queued_at <= when:
            return  # the queued event fires first and re-queues for *when*
        self._queue(when)

    def _queue(self, when: SimTime) -> None:
        self.gen = gen = self.gen + 1
        self.queued_at = when
        # NOTE: inlined for speed (see benchmarks/): queue_expiry().
        now: SimTime = self.env._now  # type: ignore[attr-defined,assignment]  # int ns
        heappush(self._heap, (when if when > now else now, NORMAL,
                              next(self._ids), Expiry(self._callbacks, gen)))

    def stop(self) -> None:
        self.active = False

    def _fire(self, ev: Expiry) -> None:
        if ev._value != self.gen:
            return  # superseded by an earlier expiry queued after it
        self.queued_at = -1
        if not self.active:
            return
        now: SimTime = self.env._now  # type: ignore[attr-defined,assignment]  # int ns
        if self.expires > now:
            self._queue(self.expires)
            return
        self.active = False
        self.fn()
