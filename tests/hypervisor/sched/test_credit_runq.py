"""credit's run queue keeps Xen's list order: checked against the list walk itself."""

from __future__ import annotations

import random
from dataclasses import dataclass

import pytest

from xensim.hypervisor.sched.credit_runq import (
    PRI_TS_BOOST,
    PRI_TS_OVER,
    PRI_TS_UNDER,
    CreditRunq,
)

PRIS = (PRI_TS_BOOST, PRI_TS_UNDER, PRI_TS_OVER)


@dataclass(eq=False)
class Unit:
    name: int
    pri: int


def walk_insert(q: list[Unit], u: Unit, yielding: bool) -> None:
    """__runq_insert as credit.c writes it: walk to the first lower priority."""
    i = 0
    while i < len(q) and q[i].pri >= u.pri:
        i += 1
    if yielding and i < len(q):
        i += 1
    q.insert(i, u)


def walk_sort(q: list[Unit]) -> None:
    """csched_runq_sort: UNDER and BOOST first, each class in order."""
    q[:] = [u for u in q if u.pri >= PRI_TS_UNDER] + [u for u in q if u.pri < PRI_TS_UNDER]


@pytest.mark.parametrize("seed", range(40))
def test_every_operation_leaves_the_order_xens_list_walk_gives(seed: int) -> None:
    rng = random.Random(seed)
    runq, model = CreditRunq(), []
    idle = [Unit(i, PRI_TS_UNDER) for i in range(12)]
    for _ in range(400):
        op = rng.random()
        if idle and op < 0.45:
            u = idle.pop(rng.randrange(len(idle)))
            u.pri = rng.choice(PRIS)
            yielding = rng.random() < 0.2
            runq.insert(u, yielding)
            walk_insert(model, u, yielding)
        elif model and op < 0.75:
            u = model[0] if rng.random() < 0.5 else rng.choice(model)  # head, or any
            runq.remove(u)
            model.remove(u)
            idle.append(u)
        elif model and op < 0.9:
            for u in rng.sample(model, rng.randint(1, len(model))):  # csched_acct
                old, u.pri = u.pri, rng.choice((PRI_TS_UNDER, PRI_TS_OVER))
                if u.pri != old:
                    runq.repriced(u, old)
        else:
            runq.sort()
            walk_sort(model)
        assert runq.vcpus == model
        if model:
            assert runq.vcpus[0] is model[0]


def test_a_yielding_vcpu_goes_behind_one_of_lower_priority() -> None:
    runq = CreditRunq()
    a, b, c = Unit(0, PRI_TS_UNDER), Unit(1, PRI_TS_OVER), Unit(2, PRI_TS_OVER)
    for u in (a, b, c):
        runq.insert(u, False)
    y = Unit(3, PRI_TS_UNDER)
    runq.insert(y, True)
    assert runq.vcpus == [a, b, y, c]
    late = Unit(4, PRI_TS_UNDER)  # the queue is out of order now: still the first OVER
    runq.insert(late, False)
    assert runq.vcpus == [a, late, b, y, c]


def test_sort_leaves_a_partitioned_queue_alone_and_reorders_after_accounting() -> None:
    runq = CreditRunq()
    units = [Unit(i, PRI_TS_UNDER) for i in range(3)]
    for u in units:
        runq.insert(u, False)
    runq.sort()
    assert runq.vcpus == units
    units[0].pri = PRI_TS_OVER
    runq.repriced(units[0], PRI_TS_UNDER)
    runq.sort()
    assert runq.vcpus == [units[1], units[2], units[0]]
    boost = Unit(9, PRI_TS_BOOST)
    runq.insert(boost, False)
    assert runq.vcpus[0] is boost


def test_a_long_queue_finds_its_first_over_vcpu_from_the_tail_after_accounting() -> None:
    """The walk from the tail (taken when the first OVER vCPU was in the second half)
    must find what Xen's walk from the head finds, with OVER vCPUs on both sides."""
    runq = CreditRunq()
    units = [Unit(i, PRI_TS_UNDER) for i in range(40)] + [Unit(40, PRI_TS_OVER)]
    for u in units:
        runq.insert(u, False)
    for i in (30, 35):  # two queued vCPUs become OVER in place, past the middle
        units[i].pri = PRI_TS_OVER
        runq.repriced(units[i], PRI_TS_UNDER)
    late = Unit(99, PRI_TS_UNDER)
    runq.insert(late, False)
    model = units[:30] + [late] + units[30:]
    assert runq.vcpus == model
    units[3].pri = PRI_TS_OVER  # now one near the head: still found
    runq.repriced(units[3], PRI_TS_UNDER)
    last = Unit(100, PRI_TS_UNDER)
    runq.insert(last, False)
    assert runq.vcpus == model[:3] + [last] + model[3:]
