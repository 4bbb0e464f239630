"""credit's per-pCPU run queue: Xen's list, with its insert point known without a walk.

Mirrors: xen/common/sched/credit.c (__runq_insert, __runq_remove,
csched_runq_sort); simplified: nothing, the order is Xen's list order.

Xen keeps a pCPU's runnable vCPUs in one list and inserts a vCPU before the
first one of lower priority, which it finds by walking from the head.  With
thousands of domains a queue holds hundreds of vCPUs (625 each for 10,000
domains on 16 pCPUs) and that walk, done at every preemption, made the cost
of a scheduling decision grow with the number of domains (benchmarks/).

A queue only ever holds three priorities (BOOST, UNDER, OVER; the idle vCPU
is never queued), so the walk's answer is one of three places: the end for
an OVER vCPU, the first OVER vCPU for an UNDER one, the first vCPU below
BOOST for a BOOST one.  The queue keeps those two positions and the number
of OVER vCPUs up to date on every insert and removal.  The list itself is
Xen's, so every order the walk gives is kept, including the ones that are
not sorted: a yielding vCPU goes behind one lower-priority vCPU, and the
accounting pass (csched_acct) changes the priority of queued vCPUs without
moving them.  After the latter the queue is marked stale and its next use
recounts the positions in one pass (as Xen's runq sort walks the queue after
each accounting pass).
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import compress, count
from operator import attrgetter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from xensim.hypervisor.sched.credit import CschedUnit

# Priorities (higher runs first).
PRI_TS_BOOST = 0
PRI_TS_UNDER = -1
PRI_TS_OVER = -2
PRI_IDLE = -64

_pri_of = attrgetter("pri")


class CreditRunq:
    """One pCPU's queue of runnable, not running, vCPUs in Xen's list order."""

    __slots__ = ("_q", "_over", "_low", "_n_over", "_stale")

    def __init__(self) -> None:
        self._q: list[CschedUnit] = []
        self._over = 0
        """Index of the first vCPU below UNDER (OVER), or the length."""
        self._low = 0
        """Index of the first vCPU below BOOST, or the length."""
        self._n_over = 0
        """How many queued vCPUs are below UNDER."""
        self._stale = False
        """Queued vCPUs changed priority: the three figures above need a recount."""

    def __len__(self) -> int:
        return len(self._q)

    def __iter__(self) -> Iterator[CschedUnit]:
        return iter(self._q)

    def head(self) -> CschedUnit:
        return self._q[0]

    def priorities_changed(self) -> None:
        """Queued vCPUs' priorities were changed in place (the accounting pass)."""
        self._stale = True

    def _recount(self) -> None:
        pris = list(map(_pri_of, self._q))
        n = len(pris)
        self._over = next(compress(count(), map(PRI_TS_UNDER.__gt__, pris)), n)
        self._low = next(compress(count(), map(PRI_TS_BOOST.__gt__, pris)), n)
        self._n_over = sum(map(PRI_TS_UNDER.__gt__, pris))
        self._stale = False

    def insert(self, svc: CschedUnit, behind_one: bool) -> None:
        """__runq_insert: before the first vCPU of lower priority, or, for a yielding
        vCPU (*behind_one*), behind it."""
        if self._stale:
            self._recount()
        q = self._q
        n = len(q)
        pri = svc.pri
        if pri >= PRI_TS_BOOST:
            i = self._low
        elif pri >= PRI_TS_UNDER:
            i = self._over
        else:
            i = n  # nothing queued is below OVER
        if behind_one and i < n:
            i += 1
        q.insert(i, svc)
        if pri < PRI_TS_UNDER:
            self._n_over += 1
            if i < self._over:
                self._over = i
        elif i <= self._over:
            self._over += 1
        if pri < PRI_TS_BOOST:
            if i < self._low:
                self._low = i
        elif i <= self._low:
            self._low += 1

    def remove(self, svc: CschedUnit) -> None:
        """__runq_remove."""
        q = self._q
        if self._stale:
            q.remove(svc)
            return
        j = q.index(svc)
        del q[j]
        if svc.pri < PRI_TS_UNDER:
            self._n_over -= 1
        if j < self._over:
            self._over -= 1
        elif j == self._over:
            self._over = self._next_below(j, PRI_TS_UNDER)
        if j < self._low:
            self._low -= 1
        elif j == self._low:
            self._low = self._next_below(j, PRI_TS_BOOST)

    def _next_below(self, j: int, pri: int) -> int:
        """The first index from *j* on whose vCPU is below *pri* (at once in a sorted
        queue: the removed vCPU's successor is of its class, or there is none)."""
        q = self._q
        for k in range(j, len(q)):
            if q[k].pri < pri:
                return k
        return len(q)

    def sort(self) -> None:
        """csched_runq_sort: UNDER and BOOST vCPUs ahead of OVER ones, each in order."""
        if self._stale:
            self._recount()
        q = self._q
        if len(q) - self._over == self._n_over:
            return  # no OVER vCPU is ahead of a better one: Xen's walk moves nothing
        q[:] = [s for s in q if s.pri >= PRI_TS_UNDER] + [s for s in q if s.pri < PRI_TS_UNDER]
        self._recount()
