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
    """A re-armable one-shot timer calling *fn()* at its expiry."""

    __slots__ = ("env", "fn", "gen", "expires", "active")

    def __init__(self, env: Environment, fn: Callable[[], None]) -> None:
        self.env = env
        self.fn = fn
        self.gen = 0
        self.expires: SimTime = -1
        self.active = False

    def set(self, when: SimTime) -> None:
        """Arm (or re-arm) the timer to fire at absolute time *when*."""
        if self.active and when == self.expires:
            return
        self.gen += 1
        self.expires = when
        self.active = True
        delay = when - self.env._now  # type: ignore[attr-defined]
        ev = Timeout(self.env, delay if delay > 0 else 0, self.gen)
        ev.callbacks.append(self._fire)  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.active:
            self.gen += 1
            self.active = False

    def _fire(self, ev: Timeout) -> None:
        if self.active and ev._value == self.gen:
            self.active = False
            self.fn()
