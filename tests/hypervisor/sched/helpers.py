"""Helpers shared by the scheduler fidelity tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from xensim.compiled import compiled_modules
from xensim.host import Host
from xensim.hypervisor.sched.credit import CreditScheduler

spies_on_credit = pytest.mark.skipif(
    "xensim.hypervisor.sched.credit" in compiled_modules(),
    reason="replaces a CreditScheduler method, which a class compiled by mypyc does not allow")


def sampler(host: Host, every_ns: int, check: Callable[[], str | None]) -> list[str]:
    """Call *check* every *every_ns* of simulated time; collect what it reports."""
    problems: list[str] = []

    def tick(_e: object = None) -> None:
        msg = check()
        if msg:
            problems.append(f"t={host.now}: {msg}")
        host.env.timeout(every_ns).callbacks.append(tick)

    tick()
    return problems


def assert_runstates_add_up(host: Host) -> None:
    """Every vCPU's four runstate times sum to the run; guests + idle fill every pCPU."""
    m = host.metrics()
    for name, d in m["domains"].items():
        for v in d["vcpus"]:
            total = v["running_ns"] + v["runnable_ns"] + v["blocked_ns"] + v["offline_ns"]
            assert total == m["duration_ns"], (name, v)
    busy = sum(d["cpu_ns"] for d in m["domains"].values())
    idle = sum(p["idle_ns"] for p in m["pcpus"])
    assert busy + idle == len(m["pcpus"]) * m["duration_ns"]


def assert_trace_well_formed(host: Host) -> None:
    """Every trace record reads like xentrace's: in time order, on a real pCPU, a real unit.

    Time never goes backwards and no record is stamped after the run; the pCPU is one of
    the host's (or -1: a wait queue); an event name is a lower-case identifier; a record
    names a unit by a (domid, vcpu) pair of non-negative integers, or by (-1, -1) when it
    is about no unit (the accounting pass); its extra data are integers (credits, pCPU
    and run-queue ids).
    """
    recs = host.hv.trace.records
    assert recs
    cpus = {p.cpu_id for p in host.hv.pcpus}
    last = 0
    for r in recs:
        assert isinstance(r.t, int) and last <= r.t <= host.now, r
        last = r.t
        assert r.cpu in cpus or r.cpu == -1, r  # -1: no pCPU (null's wait queue)
        assert r.event.replace("_", "").isalnum() and r.event.islower(), r
        assert isinstance(r.domid, int) and isinstance(r.vcpu, int), r
        assert (r.domid, r.vcpu) == (-1, -1) or (r.domid >= 0 and r.vcpu >= 0), r
        assert all(isinstance(x, int) and not isinstance(x, bool) for x in r.data), r


def credit_of(host: Host, pool: int = 0) -> CreditScheduler:
    """The credit scheduler of the host's pool number *pool*."""
    sched = host.hv.pools[pool].sched
    assert isinstance(sched, CreditScheduler)
    return sched


def new_credit_pool(host: Host, cpus: str) -> CreditScheduler:
    """A credit cpupool "p" on pCPUs *cpus* ("1" or "1-2"), taken from pool 0."""
    pool0 = host.hv.pools[0]
    for c in range(int(cpus[0]), int(cpus[-1]) + 1):
        host.toolstack.cpupool_cpu_remove(pool0, c)
    pool = host.toolstack.cpupool_create("p", "credit", cpus)
    assert isinstance(pool.sched, CreditScheduler)
    return pool.sched
