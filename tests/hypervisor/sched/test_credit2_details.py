"""credit2.c details that shares alone do not show: weights, pools, traces, dump."""

from __future__ import annotations

import pytest

from tests.conftest import shares
from tests.hypervisor.sched.helpers import assert_trace_well_formed, sampler
from xensim.host import Host
from xensim.hypervisor.sched.credit2 import CSCHED2_CREDIT_INIT, Credit2Scheduler
from xensim.hypervisor.vcpu import PauseFlag


def _host(pcpus: int, **kw) -> Host:  # type: ignore[no-untyped-def]
    return Host(pcpus=pcpus, scheduler="credit2", seed=1, dom0_vcpus=1, **kw)


def _sched(host: Host, pool: int = 0) -> Credit2Scheduler:
    sched = host.hv.pools[pool].sched
    assert isinstance(sched, Credit2Scheduler)
    return sched


def test_a_weight_change_updates_the_run_queues_max_weight() -> None:
    host = _host(2)
    d = host.create("d", workload="cpu")
    host.run(ms=5)
    rqd = _sched(host).rqds[0]
    assert rqd.max_weight == 256
    host.toolstack.sched_params(d, {"weight": 1024})
    assert rqd.max_weight == 1024 and d.vcpus[0].sched_priv.weight == 1024
    host.toolstack.sched_params(d, {"weight": 128})
    assert rqd.max_weight == 256  # Domain-0's 256 is now the largest
    assert host.toolstack.sched_params(d) == {"weight": 128, "cap": 0}


def test_a_pcpu_leaving_removes_its_run_queue_when_it_was_the_last() -> None:
    host = _host(4, xen_cmdline="sched=credit2 credit2_runqueue=cpu")
    pool0 = host.hv.pools[0]
    sched = _sched(host)
    assert [sorted(r.active) for r in sched.rqds] == [[0], [1], [2], [3]]
    host.toolstack.cpupool_cpu_remove(pool0, 2)
    assert [r.id for r in sched.rqds] == [0, 1, 3]
    host.toolstack.cpupool_cpu_add(pool0, 2)  # the first unused id comes back
    assert [(r.id, sorted(r.active)) for r in sched.rqds] == [(0, [0]), (1, [1]), (2, [2]),
                                                              (3, [3])]
    _, out, _ = host.xl("dmesg")
    lines = [ln.split("] ", 1)[1] for ln in out.splitlines()]  # past "(XEN) [time] "
    assert "Removing cpu 2 from runqueue 2" in lines
    assert " No cpus left on runqueue, disabling" in lines


def test_trace_has_tickles_and_credit_resets() -> None:
    host = _host(1, trace=True)
    host.create("hog", workload="cpu")
    host.create("io", workload="duty:busy_ms=0.2,idle_ms=3")
    host.run(ms=200)
    recs = host.hv.trace.records
    resets = [r for r in recs if r.event == "credit2_reset"]
    tickles = [r for r in recs if r.event == "tickle"]
    assert resets and all(r.data == (0,) and r.cpu == 0 for r in resets)
    assert tickles and {r.domid for r in tickles} >= {2}
    assert _sched(host).stats["reset"] == len(resets)  # one record per reset_credit
    assert_trace_well_formed(host)


def test_credits_reset_to_init_plus_what_is_left_capped_at_the_carryover() -> None:
    host = _host(1)
    host.create("a", workload="cpu", paused=True)
    host.create("b", workload="cpu", paused=True)
    sched = _sched(host)
    rqd = sched.rqds[0]
    sa, sb = (host.domain(n).vcpus[0].sched_priv for n in "ab")
    sa.credit, sb.credit = 300_000, -2_000_000
    sched._reset_credit(rqd, host.now, sb)
    assert sa.credit == CSCHED2_CREDIT_INIT + 300_000  # under the carry-over cap (500 us)
    assert sb.credit == CSCHED2_CREDIT_INIT - 2_000_000
    sa.credit = 900_000
    sched._reset_credit(rqd, host.now, sb)
    assert sa.credit == CSCHED2_CREDIT_INIT + 500_000  # capped at INIT + CARRYOVER_MAX
    sb.credit = -CSCHED2_CREDIT_INIT  # the chosen unit at CREDIT_MIN: a double reset
    sched._reset_credit(rqd, host.now, sb)
    assert sb.credit == CSCHED2_CREDIT_INIT


def test_soft_affinity_places_and_keeps_a_vcpu_on_its_preferred_queue() -> None:
    host = _host(4, xen_cmdline="sched=credit2 credit2_runqueue=cpu")
    d = host.create("d", workload="cpu", cpus_soft="2")
    for i in range(2):
        host.create(f"hog{i}", workload="cpu")
    host.run(ms=500)
    v = d.vcpus[0]
    assert v.processor.cpu_id == 2
    assert v.runstate_snapshot(host.now)[0] > 0.9 * 500_000_000  # ran 90%+ of the time


def test_dump_shows_domains_units_and_each_cpu() -> None:
    host = _host(2, topology=None)
    host.create("a", workload="cpu", cpu_weight=300, cap=50)
    host.run(ms=20)
    lines = _sched(host).dump().splitlines()
    assert lines[:3] == ["Scheduler: SMP Credit Scheduler rev2 (credit2)", "Active queues: 1",
                         "\tdefault-weight     = 256"]
    assert "\tmax_weight         = 300" in lines and "\tcpus               = 0-1" in lines
    assert any(ln.startswith("\taveload            = ") and ln.endswith("%)") for ln in lines)
    assert "\tDomain: 1 w 300 c 50 v 1" in lines
    assert "CPU[01] runq=0, sibling={1}, core={0-1}" in lines
    unit = [ln for ln in lines if "[1.0]" in ln and "budget=" in ln]
    assert unit and "[w=300]" in unit[0] and "load=" in unit[0]
    assert "RUNQ:" in lines


def test_shares_hold_on_two_run_queues_with_balancing() -> None:
    host = Host(topology="2x2x1", xen_cmdline="sched=credit2", dom0_vcpus=1, seed=1)
    for i in range(6):
        host.create(f"hog{i}", workload="cpu")
    host.run(ms=3_000)
    s = shares(host)
    # six hogs on four pCPUs in two run queues: 2/3 of a pCPU each once the
    # averaged loads have balanced; 5% allows for the queues' uneven first second
    for i in range(6):
        assert s[f"hog{i}"] == pytest.approx(4 / 6, abs=0.05)


def test_run_queue_loads_and_membership_hold_while_units_wake_block_and_move() -> None:
    # csched2_runqueue_data.load counts the runnable units assigned to the queue (queued or
    # running); every queued unit belongs to the queue it waits on (runq_assign), and the
    # queue stays ordered by credit (runq_insert).  Sampled every 0.25 ms.
    host = Host(topology="2x2x1", xen_cmdline="sched=credit2", dom0_vcpus=1, seed=1)
    for i in range(5):
        host.create(f"hog{i}", workload="cpu")
    host.create("io", workload="duty:busy_ms=0.3,idle_ms=1", vcpus=2)
    host.create("capped", workload="cpu", cap=20)
    sched = _sched(host)

    def check() -> str | None:
        for rqd in sched.rqds:
            if not len(rqd.runq) <= rqd.load <= len(rqd.runq) + len(rqd.active):
                return f"rq{rqd.id}: load={rqd.load} queued={len(rqd.runq)}"
            if any(s.rqd is not rqd or s not in rqd.svc for s in rqd.runq):
                return f"rq{rqd.id}: a queued unit belongs elsewhere"
            credits = [s.credit for s in rqd.runq]
            if credits != sorted(credits, reverse=True):
                return f"rq{rqd.id}: not in credit order {credits}"
        return None

    problems = sampler(host, 250_000, check)
    host.run(ms=400)
    assert problems == [] and sched.stats["balance"] > 0


def test_removing_queued_and_parked_units_takes_them_off_the_queue_and_its_load() -> None:
    # csched2_unit_remove: a queued unit leaves the runq and the load (update_load -1), a
    # parked one is unparked, and runq_deassign drops it from the queue's units and
    # recomputes max_weight.
    host = _host(1)
    host.create("heavy", workload="cpu", cpu_weight=1024)
    host.create("light", workload="cpu")
    capped = host.create("capped", workload="cpu", cap=5)
    host.run(ms=30)
    sched = _sched(host)
    rqd = sched.rqds[0]
    assert rqd.max_weight == 1024
    heavy = host.domain("heavy").vcpus[0].sched_priv
    while not heavy.on_runq:
        host.run(ms=1)
    load, units = rqd.load, len(rqd.svc)
    sched.remove(heavy.vcpu)
    assert heavy not in rqd.runq and heavy not in rqd.svc and heavy.rqd is None
    assert rqd.load == load - 1 and len(rqd.svc) == units - 1 and rqd.max_weight == 256
    assert heavy.sdom.nr_units == 0
    cv = capped.vcpus[0]
    while not cv.sched_priv.parked:
        host.run(ms=1)
    assert cv.pause_count == 1 and cv.sched_priv in cv.sched_priv.sdom.parked
    sched.remove(cv)
    assert cv.pause_count == 0 and not cv.sched_priv.parked
    assert cv.sched_priv.sdom.parked == [] and cv.sched_priv not in rqd.svc


def test_migrating_a_queued_unit_moves_it_and_its_load_to_the_other_queue_at_once() -> None:
    # csched2.c migrate(): a unit that is not running is deassigned, placed on a pCPU of
    # the target queue (cpumask_cycle from its pick_bias), assigned, re-queued and tickled
    # there; a running one is only marked (migrate_rqd, _VPF_migrating) and its pCPU poked.
    host = _host(2, xen_cmdline="sched=credit2 credit2_runqueue=cpu")
    for i in range(3):
        host.create(f"d{i}", workload="cpu", cpus="0")
    host.run(ms=5)
    sched = _sched(host)
    src, dst = sched.rqds
    queued = src.runq[0]
    for s in src.svc:
        s.vcpu.hard_affinity = frozenset({0, 1})
    src_load, dst_load = src.load, dst.load
    moves = sched.stats["balance"]
    sched._migrate(queued, dst, host.now)
    assert queued.rqd is dst and queued in dst.svc and queued not in src.svc
    assert queued in dst.runq and queued not in src.runq
    assert queued.vcpu.processor.cpu_id == 1 and dst.pick_bias == 1
    assert (src.load, dst.load) == (src_load - 1, dst_load + 1)
    assert 1 in dst.tickled  # the idle pCPU of the target queue is tickled
    running = host.hv.pcpus[0].curr.sched_priv
    sched._migrate(running, dst, host.now)
    assert running.migrate_rqd is dst and running.rqd is src
    assert running.vcpu.pause_flags & PauseFlag.MIGRATING and 0 in src.tickled
    assert sched.stats["balance"] == moves + 2  # each migrate() counted once


def test_global_parameters_are_checked_with_xens_bounds_and_clear_messages() -> None:
    # sched_credit2's ratelimit bounds (XEN_SYSCTL_SCHED_RATELIMIT_MIN/MAX) are inclusive,
    # 0 turns it off; credit2_runqueue is a boot-time choice.
    host = _host(1)
    pool = host.hv.pools[0]
    sg = host.toolstack.sched_global
    from xensim.toolstack.libxl import LibxlError
    assert sg(pool, {"ratelimit_us": 100})["ratelimit_us"] == 100
    assert sg(pool, {"ratelimit_us": 500_000})["ratelimit_us"] == 500_000
    assert sg(pool, {"ratelimit_us": 0})["ratelimit_us"] == 0
    sg(pool, {"ratelimit_us": 1_500})
    got = sg(pool)
    assert got == {"ratelimit_us": 1_500, "credit2_runqueue": "socket"}
    assert type(got["ratelimit_us"]) is int  # microseconds, as xl prints them
    assert sg(pool, {"credit2_runqueue": "socket"})["ratelimit_us"] == 1_500  # kept
    with pytest.raises(LibxlError, match=r"ratelimit_us must be 0 or in 100\.\.500000, got 99$"):
        sg(pool, {"ratelimit_us": 99})
    with pytest.raises(LibxlError, match=r"known: ratelimit_us, credit2_runqueue$"):
        sg(pool, {"quantum": 1})
    with pytest.raises(LibxlError, match=r"must be one of cpu\|core\|socket\|node\|all, got 'x'"):
        sg(pool, {"credit2_runqueue": "x"})
    with pytest.raises(LibxlError, match=r"^credit2_runqueue is a boot parameter: set it when "
                                         r"the pool is created$"):
        sg(pool, {"credit2_runqueue": "cpu"})


def test_budget_is_grabbed_from_the_domain_and_a_unit_without_any_is_parked() -> None:
    # credit2.c unit_grab_budget: a unit with budget left keeps running; otherwise its
    # overrun comes out of the domain's budget and it takes at most its quota; with the
    # domain's budget at 0 or below it is parked (park_unit: _VPF_parked, added at the
    # head of the domain's parked list).  unit_return_budget gives back what is left.
    host = _host(1)
    d = host.create("d", workload="cpu", vcpus=2, cap=50, paused=True)
    sched = _sched(host)
    a, b = (v.sched_priv for v in d.vcpus)
    sdom = a.sdom
    a.budget = 1
    sdom.budget = 0
    assert sched._grab_budget(a) and a.budget == 1 and sdom.budget == 0
    a.budget, sdom.budget = -100, 1_000
    assert sched._grab_budget(a) and a.budget == min(a.budget_quota, 900)
    a.budget, sdom.budget = 0, 0
    b.budget = 0
    parks = sched.stats["park"]
    assert not sched._grab_budget(a) and a.parked is True and a.budget == 0
    assert not sched._grab_budget(b) and sdom.parked == [b, a]  # the latest at the head
    assert sched.stats["park"] == parks + 2 and d.vcpus[0].pause_count >= 1
    b.budget = 700
    assert sched._return_budget(b) == [b, a] and b.budget == 0 and sdom.budget == 700
    assert sdom.parked == []


def test_replenishment_adds_a_period_of_budget_and_unparks_only_when_positive() -> None:
    # credit2.c replenish_domain_budget: budget += tot_budget per elapsed period (a debt
    # is carried over), clipped to tot_budget; parked units come back only if the
    # result is positive; the next replenishment is strictly in the future.
    host = _host(1)
    d = host.create("d", workload="cpu", cap=10, paused=True)
    sched = _sched(host)
    svc = d.vcpus[0].sched_priv
    sdom = svc.sdom
    tot = sdom.tot_budget
    assert tot == sched.cap_period // 10
    sdom.budget, sdom.parked, svc.parked = -tot, [svc], True
    sdom.next_repl = host.now
    sched._replenish(sdom)
    assert sdom.budget == 0 and sdom.parked == [svc]  # the debt ate the period's budget
    assert sdom.next_repl == host.now + sched.cap_period
    sdom.budget = -tot // 2
    sdom.next_repl = host.now - sched.cap_period  # two periods are due, the 2nd is now
    sched._replenish(sdom)
    assert sdom.budget == tot and sdom.parked == [] and not svc.parked  # clipped
    assert sdom.next_repl == host.now + sched.cap_period


def test_dump_shows_loads_as_percentages_numbers_units_and_skips_other_pools() -> None:
    # csched2_dump: "aveload = N (~P%)" with P = N * 100 >> precision shift, a "Domain info:"
    # heading, units numbered on from 1 across domains, and a "run:" line per busy pCPU;
    # only the pool's own domains are listed.
    host = _host(3)
    host.toolstack.cpupool_cpu_remove(host.hv.pools[0], 2)
    host.toolstack.cpupool_create("other", "credit2", "2")
    host.create("elsewhere", workload="cpu", pool="other")
    d = host.create("d", workload="cpu", vcpus=2)
    host.run(ms=50)
    sched = _sched(host)
    lines = sched.dump().splitlines()
    rqd = sched.rqds[0]
    pct = (rqd.avgload * 100) >> sched.load_precision_shift
    assert 0 < rqd.avgload and f"\taveload            = {rqd.avgload} (~{pct}%)" in lines
    rqd.avgload = 3 << sched.load_precision_shift  # three runnable units on average
    assert f"\taveload            = {rqd.avgload} (~300%)" in sched.dump().splitlines()
    assert "Domain info:" in lines
    assert not any(ln.startswith(f"\tDomain: {host.domain('elsewhere').domid} ")
                   for ln in lines)
    numbered = [ln.split(":")[0].strip() for ln in lines if ln.startswith("\t  ")]
    assert numbered[:3] == ["1", "2", "3"]  # Domain-0's unit, then d's two
    runs = [ln for ln in lines if ln.startswith("\trun: ")]
    assert len(runs) == 2 and all(f"[{d.domid}." in ln for ln in runs)
    svc = d.vcpus[0].sched_priv
    upct = (svc.avgload * 100) >> sched.load_precision_shift
    assert f" load={svc.avgload} (~{upct}%)" in sched._dump_unit(svc)
