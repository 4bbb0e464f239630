"""csched_schedule's own bookkeeping, asked directly on a one-pCPU host with two hogs:
the rate limit's slice and counter, the credit burn point kept across a switch, load
balancing's rate limit, and the idle pCPU's answer (Xen 4.19's credit.c)."""

from __future__ import annotations

from tests.hypervisor.sched.helpers import credit_of
from xensim.host import Host
from xensim.hypervisor.sched.credit import PRI_TS_OVER, CreditScheduler, CschedUnit
from xensim.hypervisor.vcpu import VCPU


def _two_hogs(ms: int = 5) -> tuple[Host, CreditScheduler, VCPU, VCPU]:
    """One pCPU, hogs a and b (a runs first, from time 0), run for *ms*."""
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    a = host.create("a", workload="cpu").vcpus[0]
    b = host.create("b", workload="cpu").vcpus[0]
    host.run(ms=ms)
    sched = credit_of(host)
    pcpu = host.hv.pcpus[0]
    running = pcpu.curr
    assert running in (a, b)
    other = b if running is a else a
    assert pcpu.sched_priv.runq.vcpus == [other.sched_priv]
    return host, sched, running, other


def test_the_ratelimit_slice_is_what_is_left_of_it_from_100_us_of_run_on() -> None:
    # csched_schedule: runtime < ratelimit (1 ms): the current unit goes on for
    # ratelimit - runtime, but never for less than CSCHED_MIN_TIMER (100 us) -- which is
    # what "runtime < CSCHED_MIN_TIMER" gives: at exactly 100 us of run, 900 us.
    # Each such decision is counted.
    host, sched, running, _ = _two_hogs()
    pcpu = host.hv.pcpus[0]
    count = sched.stats["ratelimit"]
    running.state_entry_time = host.now - 100_000
    assert sched.do_schedule(pcpu, host.now) == (running, 900_000)
    running.state_entry_time = host.now - 99_999
    assert sched.do_schedule(pcpu, host.now) == (running, 100_000)
    assert sched.stats["ratelimit"] == count + 2


def test_the_burn_point_is_kept_through_a_ratelimited_decision() -> None:
    # burn_credits charges whole credits (100 us each) and moves start_time by as much:
    # 350 us of run burn 3 credits and leave start_time 50 us behind now (the rest is in
    # residual), also when the rate limit keeps the unit running.
    host, sched, running, _ = _two_hogs()
    svc: CschedUnit = running.sched_priv
    running.state_entry_time = host.now - 350_000
    svc.start_time, svc.residual, svc.credit = host.now - 350_000, 0, 0
    assert sched.do_schedule(host.hv.pcpus[0], host.now)[0] is running
    assert (svc.credit, svc.residual, svc.start_time) == (-3, 500_000, host.now - 50_000)


def test_a_unit_switched_back_in_is_charged_from_where_its_burn_stopped() -> None:
    # Switched out with 50 us not yet charged (start_time kept relative), the unit is
    # charged those 50 us again from its next switch-in: start_time = then - 50 us.
    host, sched, running, other = _two_hogs()
    pcpu = host.hv.pcpus[0]
    svc: CschedUnit = running.sched_priv
    svc.start_time, svc.residual = host.now - 2_050_000, 0
    running.state_entry_time = host.now - 2_050_000
    assert sched.do_schedule(pcpu, host.now)[0] is other  # past the rate limit
    pcpu.curr, later = other, host.now + 2_000_000
    other.state_entry_time = host.now
    assert sched.do_schedule(pcpu, later)[0] is running
    assert svc.start_time == later - 50_000


def test_load_balancing_waits_more_than_its_ratelimit_since_the_last() -> None:
    # "now - spc->last_load_balance > prv->load_balance_ratelimit" (1 ms): exactly 1 ms
    # after the last, an OVER next unit is taken without looking at other pCPUs.
    for since, balanced in ((1_000_000, False), (1_000_001, True)):
        host, sched, running, other = _two_hogs()
        for v in (running, other):
            v.sched_priv.pri = PRI_TS_OVER
        spc = host.hv.pcpus[0].sched_priv
        spc.last_load_balance = host.now - since
        sched.do_schedule(host.hv.pcpus[0], host.now)
        assert (spc.last_load_balance == host.now) is balanced


def test_an_idle_pcpu_with_nothing_to_run_stays_idle_with_no_slice() -> None:
    # The idle unit is returned with no time slice (-1: no slice timer), the pCPU is an
    # idler, and a pCPU running a guest is not.
    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    host.create("hog", workload="cpu", cpus="1")
    host.run(ms=5)
    sched = credit_of(host)
    pcpu0 = host.hv.pcpus[0]
    assert pcpu0.curr.is_idle and sched.idlers == {0}
    assert sched.do_schedule(pcpu0, host.now) == (pcpu0.idle, -1)
    # Units queued there without a tickle (so pCPU 0 is still an idler): picking one,
    # the pCPU stops being one.
    w = host.create("w", workload="cpu", cpus="0", paused=True).vcpus[0]
    host.hv.core.domain_unpause(w.domain)
    sched.idlers.add(0)
    assert w.sched_priv.on_runq and w.runnable
    nxt, _slice = sched.do_schedule(pcpu0, host.now)  # w, or Domain-0 woken to build it
    assert not nxt.is_idle and sched.idlers == set()
