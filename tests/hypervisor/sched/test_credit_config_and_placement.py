"""credit.c's configuration, bookkeeping and placement, checked against Xen 4.19 fact by fact.

csched_global_init's boot parameters and their range checks, csched_init_pdata's and
csched_deinit_pdata's per-pCPU state, csched_dom_cntl's limits, csched_aff_cntl's flags,
__runq_tickle's choice of idler, _csched_cpu_pick's SMT spreading (and packing with
sched_smt_power_savings), csched_unit_wake's BOOST count and csched_schedule's rate limit,
tick and load-balance rate limit: the details a run's CPU shares do not show.  Several
tests call one hook directly on a host stopped at a known state, as Xen would call it.
"""

from __future__ import annotations

import pytest

from tests.hypervisor.sched.helpers import credit_of, new_credit_pool
from xensim.host import Host
from xensim.hypervisor.cmdline import XenCmdline
from xensim.hypervisor.pcpu import PCPU
from xensim.hypervisor.sched.credit import (
    FLAG_PINNED,
    FLAG_YIELD,
    PRI_TS_BOOST,
    PRI_TS_OVER,
    PRI_TS_UNDER,
    CreditScheduler,
)
from xensim.hypervisor.sched.ops import SchedParamError
from xensim.hypervisor.time import MICROSECS, MILLISECS
from xensim.hypervisor.vcpu import VCPU, PauseFlag


def _new_pool(host: Host, cpus: str, cmdline: XenCmdline | None = None) -> CreditScheduler:
    """A credit pool on pCPUs *cpus* (taken from pool 0), booted with *cmdline* if given."""
    if cmdline is not None:
        host.hv.cmdline = cmdline
    return new_credit_pool(host, cpus)


# --- csched_global_init: boot parameters --------------------------------------------------
@pytest.mark.parametrize(("tslice_ms", "ticks"), [(1, 1), (2, 1), (3, 3), (10, 3), (1000, 3)])
def test_a_valid_boot_tslice_is_kept_with_three_ticks_when_it_has_room(tslice_ms: int,
                                                                        ticks: int) -> None:
    host = Host(pcpus=1, xen_cmdline=f"sched_credit_tslice_ms={tslice_ms}")
    s = credit_of(host)
    assert (s.tslice_ms, s.tslice) == (tslice_ms, MILLISECS(tslice_ms))
    # csched_init: ticks_per_tslice = 3, or 1 when the slice is under 3 ms
    assert s.ticks_per_tslice == ticks
    # tick_period = tslice / ticks in whole microseconds (MICROSECS(tslice_us / ticks))
    assert s.tick_period == MICROSECS(tslice_ms * 1000 // ticks)
    assert isinstance(s.tick_period, int)
    assert s.credits_per_tslice == 10 * tslice_ms


@pytest.mark.parametrize("tslice_ms", [0, 1001])
def test_an_out_of_range_tslice_falls_back_to_30ms_in_the_scheduler_too(tslice_ms: int) -> None:
    # csched_global_init checks the range itself; a command line that skipped the
    # parser's check (built directly) still gets Xen's default.
    host = Host(pcpus=2)
    s = _new_pool(host, "1", XenCmdline(sched_credit_tslice_ms=tslice_ms))
    assert (s.tslice_ms, s.tslice, s.ticks_per_tslice) == (30, MILLISECS(30), 3)


def test_a_ratelimit_longer_than_the_tslice_is_cut_to_the_tslice() -> None:
    host = Host(pcpus=1, xen_cmdline="sched_credit_tslice_ms=10 sched_ratelimit_us=20000")
    assert credit_of(host).ratelimit == MILLISECS(10)  # "Setting ratelimit to tslice"
    host = Host(pcpus=1, xen_cmdline="sched_credit_tslice_ms=10 sched_ratelimit_us=10000")
    assert credit_of(host).ratelimit == MILLISECS(10)
    host = Host(pcpus=1, xen_cmdline="sched_credit_tslice_ms=10 sched_ratelimit_us=9999")
    assert credit_of(host).ratelimit == MICROSECS(9999)


@pytest.mark.parametrize(("delay_us", "kept_us"), [(300, 300), (100_000, 100_000),
                                                   (100_001, 0)])
def test_vcpu_migration_delay_is_kept_up_to_100ms_else_reset_to_0(delay_us: int,
                                                                   kept_us: int) -> None:
    host = Host(pcpus=2)
    s = _new_pool(host, "1", XenCmdline(vcpu_migration_delay=delay_us))
    assert s.unit_migr_delay == MICROSECS(kept_us)


def test_sched_smt_power_savings_reaches_the_scheduler() -> None:
    assert credit_of(Host(topology="1x2x2",
                       xen_cmdline="sched_smt_power_savings=1")).smt_power_savings is True
    assert credit_of(Host(topology="1x2x2")).smt_power_savings is False


def test_a_fresh_pool_starts_with_zero_counters_and_zero_balance() -> None:
    host = Host(pcpus=2)
    s = _new_pool(host, "1")
    assert s.stats == dict.fromkeys(("acct", "boost", "park", "unpark", "steal", "tickle",
                                     "ratelimit"), 0)
    assert "\tcredit balance     = 0\n" in s.dump()


# --- csched_init_pdata / csched_deinit_pdata ------------------------------------------------
def test_init_pdata_sets_idle_bias_to_the_last_cpu_and_the_pool_clocks() -> None:
    host = Host(pcpus=4, dom0_vcpus=1)
    host.create("hog", workload="cpu")
    host.run(ms=95)  # three accounting passes with a guest: runq_sort is 3
    s0 = credit_of(host)
    assert s0.runq_sort == 3
    s = _new_pool(host, "2-3")
    now = host.now
    for c in (2, 3):
        spc = host.hv.pcpus[c].sched_priv
        assert spc.idle_bias == 3  # nr_cpu_ids - 1
        assert spc.last_load_balance == now
        assert spc.ticker.expires == now + s.tick_period  # the first tick: one period on
    assert s.master is host.hv.pcpus[2]
    assert s.master_ticker.expires == now + s.tslice
    host.toolstack.cpupool_cpu_remove(host.hv.pools[1], 3)
    host.toolstack.cpupool_cpu_add(host.hv.pools[0], 3)
    assert host.hv.pcpus[3].sched_priv.runq_sort_last == 3  # sorted as of now: no re-sort


def test_a_pool_added_late_does_its_first_accounting_one_tslice_on() -> None:
    host = Host(pcpus=2)
    host.run(ms=7)
    s = _new_pool(host, "1")
    host.create("hog", workload="cpu", pool="p")
    host.run(ms=29)
    assert s.stats["acct"] == 0
    host.run(ms=2)
    assert s.stats["acct"] == 1


def test_the_first_pcpu_of_a_node_is_where_stealing_there_starts() -> None:
    host = Host(topology="2x2x1")  # node 0 = pCPUs 0-1, node 1 = pCPUs 2-3
    s = _new_pool(host, "2-3")
    assert s.balance_bias == {1: 2}
    assert credit_of(Host(topology="2x2x1")).balance_bias == {0: 0, 1: 2}


def test_removing_the_master_moves_accounting_to_the_next_cpu_on_the_same_beat() -> None:
    # csched_deinit_pdata: the next pCPU of the pool becomes master and migrate_timer()
    # moves the master ticker there with its expiry unchanged.
    host = Host(pcpus=3)
    s = _new_pool(host, "1-2")
    host.run(ms=10)
    beat = s.master_ticker.expires
    host.toolstack.cpupool_cpu_remove(host.hv.pools[1], 1)
    assert s.master is host.hv.pcpus[2]
    assert s.master_ticker.expires == beat
    host.toolstack.cpupool_cpu_remove(host.hv.pools[1], 2)
    assert s.master is None
    assert "\tmaster             = -1\n" in s.dump()


# --- csched_dom_cntl / csched_sys_cntl ------------------------------------------------------
def test_dom_cntl_takes_the_limits_and_refuses_beyond_them() -> None:
    host = Host(pcpus=1)
    d = host.create("g", vcpus=2)
    s = credit_of(host)
    assert s.adjust(d, {"weight": 1}) == {"weight": 1, "cap": 0}
    assert s.adjust(d, {"weight": 65535})["weight"] == 65535
    assert s.adjust(d, {"cap": 200})["cap"] == 200  # 100 per vCPU
    with pytest.raises(SchedParamError, match=r"^cap must be in 0\.\.200 \(100 per vCPU\)"):
        s.adjust(d, {"cap": 201})
    with pytest.raises(SchedParamError) as e:
        s.adjust(d, {"weight": 3, "prio": 1})
    assert str(e.value) == "unknown credit domain parameter(s) ['prio']; known: weight, cap"
    assert s.adjust(d) == {"weight": 65535, "cap": 200}


# --- csched_aff_cntl: PINNED and soft affinity ----------------------------------------------
def test_pinned_flag_follows_a_one_cpu_hard_affinity_and_keeps_other_flags() -> None:
    host = Host(pcpus=2)
    d = host.create("g", workload="cpu", cpus="1")
    v = d.vcpus[0]
    s = credit_of(host)
    assert v.sched_priv.flags & FLAG_PINNED
    s.yield_(v)
    assert v.sched_priv.flags & FLAG_PINNED  # yield only adds YIELD
    assert v.sched_priv.flags & FLAG_YIELD
    v.hard_affinity = frozenset({0, 1})
    s.adjust_affinity(v)
    assert not v.sched_priv.flags & FLAG_PINNED
    assert v.sched_priv.flags & FLAG_YIELD  # unpinning clears PINNED only
    v.hard_affinity = frozenset({0})
    s.adjust_affinity(v)
    assert v.sched_priv.flags & FLAG_PINNED
    assert v.sched_priv.flags & FLAG_YIELD  # pinning sets PINNED only
    v.hard_affinity = frozenset({0, 1})
    v.sched_priv.flags = 0
    s.adjust_affinity(v)
    assert v.sched_priv.flags == 0


def test_soft_affinity_counts_only_when_it_narrows_the_hard_one() -> None:
    host = Host(pcpus=3)
    d = host.create("g", workload="cpu", cpus="0-1")
    v = d.vcpus[0]
    s = credit_of(host)
    base = s.nr_soft_affine
    for soft in ({2}, {0, 1}, {0, 1, 2}):  # disjoint, equal, wider: no useful soft affinity
        v.soft_affinity = frozenset(soft)
        s.adjust_affinity(v)
        assert v.sched_priv.soft is None, soft
        assert s.nr_soft_affine == base
    for _ in range(2):  # setting it again does not count it twice
        v.soft_affinity = frozenset({1, 2})
        s.adjust_affinity(v)
        assert v.sched_priv.soft == frozenset({1})
        assert s.nr_soft_affine == base + 1


# --- csched_unit_wake / csched_unit_yield -----------------------------------------------------
def test_every_boost_and_every_tickle_is_counted_once() -> None:
    host = Host(pcpus=1, trace=True, dom0_vcpus=1)
    host.create("io", workload="duty:busy_ms=3,idle_ms=4")  # often running at a tick
    host.run(ms=100)
    s = credit_of(host)
    boosts = sum(1 for r in host.hv.trace.records if r.event == "boost_start")
    tickles = sum(1 for r in host.hv.trace.records if r.event == "tickle")
    assert boosts >= 2 and tickles >= 2
    assert (s.stats["boost"], s.stats["tickle"]) == (boosts, tickles)


def test_waking_a_running_vcpu_changes_nothing() -> None:
    host = Host(pcpus=1, dom0_vcpus=1)
    d = host.create("hog", workload="cpu")
    host.run(ms=5)
    v = d.vcpus[0]
    assert v.processor.curr is v
    s = credit_of(host)
    before = (s.stats["boost"], v.sched_priv.pri, v.sched_priv.on_runq)
    s.wake(v)
    assert (s.stats["boost"], v.sched_priv.pri, v.sched_priv.on_runq) == before


# --- csched_schedule --------------------------------------------------------------------------
def _two_hogs(cmdline: str, ms: int) -> tuple[Host, CreditScheduler, PCPU]:
    """One pCPU shared by two CPU hogs (dom0 idle), run for *ms*."""
    host = Host(pcpus=1, dom0_vcpus=1, xen_cmdline=cmdline)
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    host.run(ms=ms)
    return host, credit_of(host), host.hv.pcpus[0]


def test_schedule_rate_limit_keeps_the_current_vcpu_and_counts_each_time() -> None:
    host, s, pcpu = _two_hogs("sched_ratelimit_us=30000", ms=45)
    prev = pcpu.curr
    assert not prev.is_idle
    runtime = host.now - prev.state_entry_time
    assert 0 < runtime < MILLISECS(30)
    before = s.stats["ratelimit"]
    svc = prev.sched_priv
    for i in (1, 2):
        # the run so far is burnt in whole credits (100 us each); the rest stays pending
        burnt = ((host.now - svc.start_time) * 10 + svc.residual) // 1_000_000
        start = svc.start_time + burnt * 100_000
        nxt, tslice = s.do_schedule(pcpu, host.now)
        assert (nxt, tslice) == (prev, MILLISECS(30) - runtime)
        assert s.stats["ratelimit"] == before + i
        assert svc.start_time == start
        host.run(ns=7_777)
        runtime += 7_777


def test_schedule_rate_limit_gives_at_least_the_minimum_timer() -> None:
    host, s, pcpu = _two_hogs("sched_ratelimit_us=30000", ms=25)
    first = pcpu.curr
    while pcpu.curr is first:  # up to the next switch, 10 us at a time
        host.run(ns=10_000)
    prev = pcpu.curr
    host.run(ns=prev.state_entry_time + 99_999 - host.now)
    assert s.do_schedule(pcpu, host.now) == (prev, MICROSECS(100))  # CSCHED_MIN_TIMER
    host.run(ns=1)
    assert s.do_schedule(pcpu, host.now) == (prev, MILLISECS(30) - MICROSECS(100))


def test_a_vcpu_switched_in_resumes_its_pending_sub_credit_time() -> None:
    host, s, pcpu = _two_hogs("sched_ratelimit_us=0", ms=47)
    host.run(ns=12_345)
    s.core.raise_softirq(pcpu)  # a switch between two credit boundaries
    host.run(ns=1_000)
    waiting = pcpu.sched_priv.runq.vcpus[0]
    pending = waiting.start_time  # minus the run not yet burnt when it was switched out
    assert pending < 0
    nxt, _ = s.do_schedule(pcpu, host.now)
    assert nxt is waiting.vcpu
    assert waiting.start_time == host.now + pending


def test_schedule_on_an_idle_pcpu_returns_idle_with_no_timeslice() -> None:
    host = Host(pcpus=2, dom0_vcpus=1)
    host.run(ms=5)
    s = credit_of(host)
    pcpu = next(p for p in host.hv.pcpus if p.curr.is_idle)
    assert s.do_schedule(pcpu, host.now) == (pcpu.idle, -1)


def test_the_idlers_mask_is_exactly_the_pcpus_running_idle() -> None:
    host = Host(pcpus=3, dom0_vcpus=1, seed=2)
    for i in range(4):
        host.create(f"hog{i}", workload="cpu" if i % 2 else "duty:busy_ms=3,idle_ms=5")
    s = credit_of(host)
    problems: list[str] = []
    for _ in range(40):
        host.run(ms=2)
        idle = {p.cpu_id for p in host.hv.pcpus if p.curr.is_idle}
        if s.idlers - idle:
            problems.append(f"t={host.now}: idlers {sorted(s.idlers)} but idle {sorted(idle)}")
    assert not problems


def test_the_tick_stops_while_idle_and_restarts_on_the_tick_grid() -> None:
    host = Host(pcpus=1, dom0_vcpus=1)
    host.create("io", workload="duty:busy_ms=2,idle_ms=13")
    s = credit_of(host)
    spc = host.hv.pcpus[0].sched_priv
    seen_idle = seen_busy = 0
    for _ in range(60):
        host.run(ms=1)
        if host.hv.pcpus[0].curr.is_idle:
            assert not spc.ticker.active
            seen_idle += 1
        else:
            assert spc.ticker.active
            assert spc.ticker.expires % s.tick_period == 0
            seen_busy += 1
    assert seen_idle and seen_busy


# --- __runq_tickle: which pCPU a newly queued vCPU pokes ---------------------------------------
def _tickle_host(soft: str | None = None) -> tuple[Host, CreditScheduler, VCPU]:
    """pCPU 0 runs an UNDER hog; pCPUs 1 and 2 are idle; *new* (paused) sits on pCPU 0."""
    host = Host(pcpus=3, dom0_vcpus=1, trace=True)
    assert host.xl("vcpu-pin 0 0 2")[0] == 0
    host.create("hog", workload="cpu", cpus="0")
    keys = {"cpus_soft": soft} if soft else {}
    g = host.create("new", workload="cpu", paused=True, **keys)
    host.run(ms=5)
    s = credit_of(host)
    pcpu0 = host.hv.pcpus[0]
    assert pcpu0.curr.domain.name == "hog"
    assert s.idlers == {1, 2}
    pcpu0.curr.sched_priv.pri = PRI_TS_UNDER
    pcpu0.sched_priv.last_tickle_cpu = 0
    v = g.vcpus[0]
    v.processor = pcpu0
    return host, s, v


def _tickled(host: Host, s: CreditScheduler, v: VCPU, pri: int) -> list[int]:
    v.sched_priv.pri = pri
    n = len(host.hv.trace.records)
    s._runq_tickle(v.sched_priv)
    return [r.cpu for r in host.hv.trace.records[n:] if r.event == "tickle"]


@pytest.mark.parametrize("pri", [PRI_TS_BOOST, PRI_TS_UNDER, PRI_TS_OVER])
def test_tickle_prefers_one_idler_over_preempting_the_busy_cpu(pri: int) -> None:
    host, s, v = _tickle_host()
    assert _tickled(host, s, v, pri) == [1]  # cycling from last_tickle_cpu 0
    assert not host.hv.pcpus[0].curr.pause_flags & PauseFlag.MIGRATING


def test_tickle_a_pinned_vcpu_preempts_its_cpu_only_when_it_is_better() -> None:
    host, s, v = _tickle_host()
    v.hard_affinity = frozenset({0})
    s.adjust_affinity(v)
    assert _tickled(host, s, v, PRI_TS_UNDER) == []  # equal priority: wait in the queue
    assert _tickled(host, s, v, PRI_TS_BOOST) == [0]
    # its affinity has no idler: the running vCPU is not told to migrate
    assert not host.hv.pcpus[0].curr.pause_flags & PauseFlag.MIGRATING


def test_tickle_with_no_idler_preempts_only_for_a_better_priority() -> None:
    host, s, v = _tickle_host()
    s.idlers.clear()
    assert _tickled(host, s, v, PRI_TS_UNDER) == []
    assert _tickled(host, s, v, PRI_TS_BOOST) == [0]


def test_tickle_goes_to_an_idler_in_the_soft_affinity_first() -> None:
    host, s, v = _tickle_host(soft="2")
    assert v.sched_priv.soft == frozenset({2})
    assert _tickled(host, s, v, PRI_TS_UNDER) == [2]


def test_tickle_falls_back_to_a_hard_idler_when_the_soft_cpus_are_busy() -> None:
    host, s, v = _tickle_host(soft="0")
    assert v.sched_priv.soft == frozenset({0})
    assert _tickled(host, s, v, PRI_TS_BOOST) == [1]


# --- _csched_cpu_pick --------------------------------------------------------------------------
def test_a_running_vcpu_alone_on_its_cpu_stays_there_at_every_tick() -> None:
    host = Host(pcpus=2, dom0_vcpus=1)
    assert host.xl("vcpu-pin 0 0 1")[0] == 0
    d = host.create("hog", workload="cpu")
    host.run(ms=1)
    first = d.vcpus[0].processor
    # nothing waits behind it, so its own pCPU counts as idle: the look keeps it there
    assert credit_of(host).idlers == {1 - first.cpu_id}
    assert credit_of(host)._cpu_pick(d.vcpus[0]) is first
    for _ in range(10):
        host.run(ms=10)
        assert d.vcpus[0].processor is first
        assert first.curr is d.vcpus[0]


def _smt_host(cmdline: str = "") -> tuple[Host, CreditScheduler, VCPU]:
    """1x3x2: pCPU 1 is busy (so core 0 is half idle), the rest idle; *v* sits on pCPU 0."""
    host = Host(topology="1x3x2", dom0_vcpus=1, xen_cmdline=cmdline)
    assert host.xl("vcpu-pin 0 0 1")[0] == 0
    host.create("busy", workload="cpu", cpus="1")
    g = host.create("new", workload="cpu", paused=True)
    host.run(ms=5)
    s = credit_of(host)
    assert s.idlers == {0, 2, 3, 4, 5}
    v = g.vcpus[0]
    v.processor = host.hv.pcpus[0]
    return host, s, v


def test_cpu_pick_spreads_to_a_fully_idle_core_and_cycles_its_threads() -> None:
    host, s, v = _smt_host()
    # a look (as at a tick) does not move the idle bias: the same answer twice
    look = s._cpu_pick(v).cpu_id
    assert s._cpu_pick(v).cpu_id == look
    # committed picks (vcpu_migrate) alternate between the threads of the first idle core
    picks = [s.pick_cpu(v).cpu_id for _ in range(4)]
    assert picks[0] == look
    assert sorted(picks[:2]) == [2, 3]
    assert picks == picks[:2] * 2


def test_cpu_pick_with_smt_power_savings_packs_next_to_the_busy_thread() -> None:
    host, s, v = _smt_host("sched_smt_power_savings=1")
    assert s.pick_cpu(v).cpu_id == 0


def test_cpu_pick_with_smt_power_savings_stays_when_every_core_is_as_idle() -> None:
    host = Host(topology="1x3x2", dom0_vcpus=1, xen_cmdline="sched_smt_power_savings=1")
    g = host.create("new", workload="cpu", paused=True)
    host.run(ms=5)
    s = credit_of(host)
    assert s.idlers == set(range(6))
    v = g.vcpus[0]
    v.processor = host.hv.pcpus[2]
    assert s.pick_cpu(v).cpu_id == 2


def test_cpu_pick_leaves_a_busy_soft_affinity_for_an_idle_hard_one() -> None:
    host = Host(pcpus=3, dom0_vcpus=1)
    assert host.xl("vcpu-pin 0 0 2")[0] == 0
    host.create("busy", workload="cpu", cpus="1")
    g = host.create("new", workload="cpu", paused=True, cpus_soft="1")
    host.run(ms=5)
    s = credit_of(host)
    v = g.vcpus[0]
    v.processor = host.hv.pcpus[0]
    assert 1 not in s.idlers
    assert s.pick_cpu(v).cpu_id == 0


# --- csched_unit_remove ------------------------------------------------------------------------
def test_destroying_a_queued_vcpu_takes_it_off_the_run_queue() -> None:
    host = Host(pcpus=1, dom0_vcpus=1)
    host.create("a", workload="cpu")
    b = host.create("b", workload="cpu")
    host.run(ms=5)
    spc = host.hv.pcpus[0].sched_priv
    queued = b.vcpus[0].sched_priv
    assert queued.on_runq and spc.runq.vcpus == [queued]
    assert host.xl("destroy b")[0] == 0
    assert spc.runq.vcpus == []
    host.run(ms=40)
    assert host.hv.pcpus[0].curr.domain.name == "a"


def test_an_idle_cpu_balances_only_once_the_load_balance_ratelimit_has_passed() -> None:
    host = Host(pcpus=2, dom0_vcpus=1)
    assert host.xl("vcpu-pin 0 0 0")[0] == 0
    host.create("a", workload="cpu", cpus="0")
    b = host.create("b", workload="cpu", cpus="0")
    host.run(ms=5)
    s = credit_of(host)
    vb = b.vcpus[0]
    assert vb.sched_priv.on_runq
    vb.hard_affinity = frozenset({0, 1})
    s.adjust_affinity(vb)
    idle = host.hv.pcpus[1]
    spc = idle.sched_priv
    assert s.load_balance_ratelimit == MILLISECS(1)  # load-balance-ratelimit's default
    spc.last_load_balance = host.now - s.load_balance_ratelimit
    assert s.do_schedule(idle, host.now) == (idle.idle, -1)  # not yet: strictly after
    assert 1 in s.idlers
    spc.last_load_balance -= 1
    assert s.do_schedule(idle, host.now)[0] is vb
    assert 1 not in s.idlers


def test_an_idle_cpu_rescheduling_to_idle_leaves_its_tick_alone() -> None:
    host = Host(pcpus=2)
    host.run(ms=7)
    s = _new_pool(host, "1")  # its first tick: 17 ms, off the 10 ms grid
    pcpu = host.hv.pcpus[1]
    host.run(ms=1)
    assert s.do_schedule(pcpu, host.now) == (pcpu.idle, -1)
    assert pcpu.sched_priv.ticker.expires == MILLISECS(17)
