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
moving them (the queue is told, and looks for the new first OVER vCPU once,
when it next needs it).
"""

from __future__ import annotations

from itertools import compress, count, islice, repeat
from operator import attrgetter, is_, not_
from typing import Final, Generic, Protocol, TypeVar

# Priorities (higher runs first).
PRI_TS_BOOST: Final = 0
PRI_TS_UNDER: Final = -1
PRI_TS_OVER: Final = -2
PRI_IDLE: Final = -64

_pri_of = attrgetter("pri")


class Queued(Protocol):
    """What the queue reads of a vCPU: credit's ``CschedUnit``, or a test's stand-in
    (a protocol, so the compiled build checks no class: see xensim/compiled.py)."""

    pri: int


U = TypeVar("U", bound=Queued)


class CreditRunq(Generic[U]):
    """One pCPU's queue of runnable, not running, vCPUs in Xen's list order."""

    __slots__ = ("vcpus", "_over", "_low", "_n_over", "_over_was")

    def __init__(self) -> None:
        self.vcpus: list[U] = []
        """The queue, head first: read it, change it only through the methods below."""
        self._over = 0
        """Index of the first vCPU below UNDER (OVER), or the length; -1: unknown."""
        self._low = 0
        """Index of the first vCPU below BOOST, or the length."""
        self._n_over = 0
        """How many queued vCPUs are below UNDER."""
        self._over_was = 0
        """``_over`` when it became unknown: where to start looking for it (a hint)."""

    def insert(self, svc: U, behind_one: bool) -> None:
        """__runq_insert: before the first vCPU of lower priority, or, for a yielding
        vCPU (*behind_one*), behind it."""
        q = self.vcpus
        n = len(q)
        over = self._first_over()
        pri = svc.pri
        if pri >= PRI_TS_BOOST:
            i = self._low
        elif pri >= PRI_TS_UNDER:
            i = over
        else:
            i = n  # nothing queued is below OVER
        if behind_one and i < n:
            i += 1
        q.insert(i, svc)
        # Only a vCPU put at or before the first OVER one (or the first below BOOST)
        # moves it on: an OVER vCPU goes to the end (where, in a queue with none, it is
        # the first, at the index `_over` holds already), and no vCPU below BOOST goes
        # before the first one.
        if pri < PRI_TS_UNDER:
            self._n_over += 1
        elif i <= over:
            self._over = over + 1
        if pri >= PRI_TS_BOOST and i <= self._low:
            self._low += 1

    def remove(self, svc: U) -> None:
        """__runq_remove."""
        q = self.vcpus
        j = 0 if q[0] is svc else self._find(svc, len(q))  # mostly the head: it runs next
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

    def repriced(self, svc: U, old: int) -> None:
        """*svc*, queued, had priority *old* and has UNDER or OVER now (csched_acct
        sets only those two; a boost begins at a wake, before the insert): the vCPU
        keeps its place in the list.  A vCPU newly OVER may be the first one now:
        that is looked for when next needed, once for all the vCPUs one accounting
        pass changed (in a queue of thousands, a search each cost more than the rest
        of the pass)."""
        new = svc.pri
        if (new < PRI_TS_UNDER) != (old < PRI_TS_UNDER):
            if new < PRI_TS_UNDER:
                self._n_over += 1
                if self._over > 0:  # at 0 the first stays first; below 0: unknown already
                    self._over_was = self._over
                    self._over = -1  # unknown
            else:
                self._n_over -= 1
                if self._over >= 0 and self.vcpus[self._over] is svc:  # an OVER one: known
                    self._over = self._next_below(self._over, PRI_TS_UNDER)
        if old >= PRI_TS_BOOST:  # a boost ends: it may be the first vCPU below BOOST now
            self._low = self._find(svc, self._low)

    def _first_over(self) -> int:
        over = self._over
        if over < 0:  # the first vCPU below UNDER, by a walk in C
            q = self.vcpus
            n = len(q)
            if not self._n_over:
                over = n
            elif 2 * self._over_was < n:
                over = next(compress(count(), map(PRI_TS_UNDER.__gt__, map(_pri_of, q))))
            else:
                # It was in the second half: count the OVER vCPUs from the tail instead,
                # the last one met is the first.  One long queue (every vCPU 0 starts on
                # pCPU 0) keeps its few OVER vCPUs at its end, and a walk from the head
                # was the largest cost per event with 10,000 domains (benchmarks/).
                from_tail = compress(count(n - 1, -1),
                                     map(PRI_TS_UNDER.__gt__, map(_pri_of, reversed(q))))
                over = next(islice(from_tail, self._n_over - 1, None))
            self._over = over
        return over

    def _find(self, svc: U, stop: int) -> int:
        """Where *svc* is among the first *stop* vCPUs, or *stop* (a walk by identity,
        in C: the dataclasses compare by identity too, but slowly)."""
        return next(compress(count(), map(is_, islice(self.vcpus, stop), repeat(svc))), stop)

    def _next_below(self, j: int, pri: int) -> int:
        """The first index from *j* on whose vCPU is below *pri*, or the length (at once
        in a sorted queue: the vCPU that was there had that priority)."""
        q = self.vcpus
        for k in range(j, len(q)):
            if q[k].pri < pri:
                return k
        return len(q)

    def sort(self) -> None:
        """csched_runq_sort: UNDER and BOOST vCPUs ahead of OVER ones, each in order.
        Everything before the first OVER vCPU stays; the rest is split in C."""
        q = self.vcpus
        k = self._first_over()
        if len(q) - k == self._n_over:
            return  # no OVER vCPU is ahead of a better one: Xen's walk moves nothing
        tail = q[k:]
        below = list(map(PRI_TS_UNDER.__gt__, map(_pri_of, tail)))
        better = list(compress(tail, map(not_, below)))
        q[k:] = better + list(compress(tail, below))
        self._over = k + len(better)
        if self._low >= k:
            self._low = self._next_below(k, PRI_TS_BOOST)
