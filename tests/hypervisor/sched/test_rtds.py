"""Fidelity of RTDS (rt.c): budgets per period, global EDF, extratime, parameters.

Exactness.  Budgets burn in nanoseconds and replenish exactly at deadlines
(multiples of the period counted from time 0), so a CPU-bound vCPU without
extratime runs *exactly* its budget in every whole period it is measured
over.  The only slack is the first period, which uses the default
(10000 µs, 4000 µs) parameters because new values take effect at the next
replenishment, as in Xen; the tests measure from a boundary after it.
"""

from __future__ import annotations

import pytest

from tests.conftest import shares
from tests.hypervisor.sched.helpers import (
    assert_runstates_add_up,
    assert_trace_well_formed,
    sampler,
)
from xensim.host import Host
from xensim.hypervisor.sched.rt import _key
from xensim.toolstack.libxl import LibxlError


def _host(pcpus: int, **kw) -> Host:  # type: ignore[no-untyped-def]
    return Host(pcpus=pcpus, scheduler="rtds", seed=1, **kw)


def test_each_vcpu_gets_exactly_its_budget_per_period() -> None:
    host = _host(2)
    servers = {"a": (10_000, 4_000), "b": (20_000, 5_000), "c": (5_000, 2_000),
               "d": (10_000, 3_000)}  # utilisation 0.4 + 0.25 + 0.4 + 0.3 = 1.35 <= 2
    for name, (period, budget) in servers.items():
        d = host.create(name, workload="cpu")
        host.toolstack.sched_params(d, {"period": period, "budget": budget, "extratime": 0})
    host.run(ms=10)  # the first (default) period ends at 10 ms for everyone
    host.reset_metrics()
    host.run(ms=1_000)  # 10 ms + 1000 ms is a whole number of every period above
    m = host.metrics()
    for name, (period, budget) in servers.items():
        expected = budget * 1_000 * (1_000_000 // period)
        # rel=1e-4: exact but for a context switch straddling the window edge.
        assert m["domains"][name]["cpu_ns"] == pytest.approx(expected, rel=1e-4), name


def test_per_vcpu_parameters() -> None:
    host = _host(2)
    d = host.create("two", workload="cpu", vcpus=2)
    host.toolstack.sched_params(d, {"extratime": 0})
    host.hv.pools[0].sched.adjust_vcpu(d.vcpus[1], {"period": 10_000, "budget": 1_000})
    host.run(ms=10)
    host.reset_metrics()
    host.run(ms=500)
    v0, v1 = host.metrics()["domains"]["two"]["vcpus"]
    assert v0["running_ns"] == pytest.approx(0.4 * 500e6, rel=1e-4)
    assert v1["running_ns"] == pytest.approx(0.1 * 500e6, rel=1e-4)


def _periodic_misses(n_tasks: int, wcet_ms: float, hogs: int = 0) -> dict[str, tuple[int, int]]:
    host = _host(2)
    for i in range(n_tasks):
        host.create(f"rt{i}", workload=f"periodic:period_ms=10,wcet_ms={wcet_ms}")
    for i in range(hogs):
        d = host.create(f"hog{i}", workload="cpu")  # soaks up idle time via extratime
        host.toolstack.sched_params(d, {"period": 10_000, "budget": 1_000})
    host.run(ms=1_000)
    m = host.metrics()["domains"]
    return {n: (d["jobs"], d["deadline_misses"]) for n, d in m.items() if n.startswith("rt")}


def test_no_deadline_missed_when_budgets_cover_the_tasks() -> None:
    # Four 3 ms/10 ms jobs in four 4 ms/10 ms servers, plus two extratime hogs with
    # 1 ms/10 ms each: reserved utilisation 1.8 <= 2 pCPUs.
    res = _periodic_misses(4, 3.0, hogs=2)
    assert all(jobs >= 99 and misses == 0 for jobs, misses in res.values()), res


def test_overload_misses_deadlines() -> None:
    # Six 3.5 ms/10 ms jobs need 2.1 pCPUs of 2: some deadlines must go.
    res = _periodic_misses(6, 3.5)
    assert sum(misses for _, misses in res.values()) > 50, res


def test_extratime_gives_idle_time_beyond_the_budget() -> None:
    def run(extra: int) -> dict[str, float]:
        host = _host(1, dom0_vcpus=1)
        a = host.create("a", workload="cpu")
        b = host.create("b", workload="cpu")
        host.toolstack.sched_params(a, {"budget": 2_000, "extratime": extra})
        host.toolstack.sched_params(b, {"budget": 3_000, "extratime": 0})
        host.run(ms=10)
        host.reset_metrics()
        host.run(ms=1_000)
        return shares(host)

    without, with_extra = run(0), run(1)
    assert without["a"] == pytest.approx(0.2, abs=1e-4)
    assert without["b"] == pytest.approx(0.3, abs=1e-4)
    # With extratime, a takes the 50% that would otherwise be idle; b keeps its budget.
    assert with_extra["a"] == pytest.approx(0.7, abs=1e-3)
    assert with_extra["b"] == pytest.approx(0.3, abs=1e-4)


def test_an_earlier_deadline_preempts_the_latest_deadline_vcpu() -> None:
    host = _host(1, dom0_vcpus=1)
    hog = host.create("hog", workload="cpu")
    host.toolstack.sched_params(hog, {"period": 100_000, "budget": 90_000, "extratime": 0})
    rt = host.create("rt", workload="periodic:period_ms=5,wcet_ms=1")
    host.toolstack.sched_params(rt, {"period": 5_000, "budget": 1_500, "extratime": 0})
    host.run(ms=1_000)
    d = host.metrics()["domains"]["rt"]
    assert d["deadline_misses"] == 0 and d["jobs"] >= 199
    # The rt vCPU preempts the hog at once on a wake-up, since its deadline is
    # earlier, except when both deadlines fall on the same instant (every 100 ms):
    # runq_tickle only preempts for a strictly earlier deadline, so it waits for that
    # shared deadline (< 1 ms away, its job being released 4 ms into the period).
    late = [lat for lat in rt.vcpus[0].wake_latencies if lat > 50_000]
    assert len(late) <= 10 and max(late) < 1_000_000


def test_a_waking_earlier_deadline_unit_tickles_the_pcpu_it_preempts() -> None:
    # rt.c runq_tickle: the woken unit's deadline beats the hog's, so the hog's pCPU is
    # tickled (TRACE_RTDS_TICKLE with the woken unit's ids), once per wake-up.
    host = _host(1, dom0_vcpus=1, trace=True)
    hog = host.create("hog", workload="cpu")
    host.toolstack.sched_params(hog, {"period": 100_000, "budget": 90_000, "extratime": 0})
    rt = host.create("rt", workload="periodic:period_ms=5,wcet_ms=1")
    host.toolstack.sched_params(rt, {"period": 5_000, "budget": 1_500, "extratime": 0})
    host.run(ms=50)
    tickles = [r for r in host.hv.trace.records if r.event == "tickle"]
    assert {(r.cpu, r.domid, r.vcpu) for r in tickles} >= {(0, rt.domid, 0)}
    wakes = [r for r in host.hv.trace.records if r.event == "wake" and r.domid == rt.domid]
    assert len([r for r in tickles if r.domid == rt.domid]) <= len(wakes)
    assert_trace_well_formed(host)


def test_no_vcpu_runs_on_two_pcpus_and_affinity_holds() -> None:
    host = _host(3)
    for i in range(4):
        host.create(f"d{i}", workload="duty:busy_ms=3,idle_ms=2", vcpus=2)
    host.create("pinned", workload="cpu", cpus="2")

    def check() -> str | None:
        running = [p.curr for p in host.hv.pcpus if not p.curr.is_idle]
        if len(running) != len({id(v) for v in running}):
            return f"duplicate running vCPU: {running}"
        for p in host.hv.pcpus:
            if not p.curr.is_idle and p.cpu_id not in p.curr.hard_affinity:
                return f"{p.curr} on {p} outside its affinity"
        return None

    problems = sampler(host, 100_000, check)
    host.run(ms=500)
    assert problems == []


def test_runstate_times_add_up() -> None:
    host = _host(2)
    host.create("hog", workload="cpu", vcpus=2)
    host.create("duty", workload="duty:busy_ms=1,idle_ms=2", vcpus=2)
    host.create("rt", workload="periodic:period_ms=5,wcet_ms=1")
    d = host.create("noextra", workload="cpu")
    host.toolstack.sched_params(d, {"extratime": 0})
    host.run(ms=300)
    host.xl("pause duty")
    host.run(ms=200)
    assert_runstates_add_up(host)


@pytest.mark.parametrize("params, msg", [
    ({"period": 5}, "period must be at least 10 us"),
    ({"period": 10_000, "budget": 5}, "budget must be at least 10 us"),
    ({"period": 1_000, "budget": 2_000}, "budget .2000 us. must not exceed period"),
    ({"weight": 3}, "unknown rtds parameter"),
])
def test_parameters_are_range_checked(params: dict, msg: str) -> None:
    host = _host(1)
    d = host.create("d", workload="idle")
    with pytest.raises(LibxlError, match=msg):
        host.toolstack.sched_params(d, params)
    assert host.toolstack.sched_params(d) == {"period": 10_000, "budget": 4_000, "extratime": 1}


def test_dump_lists_the_queues() -> None:
    host = _host(1, dom0_vcpus=1)
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    host.run(ms=5)
    text = host.hv.pools[0].sched.dump()
    assert "Global RunQueue info:" in text and "Global Replenishment Events info:" in text
    lines = text.splitlines()  # a used its 4 ms and waits, demoted, in the run queue
    waiting = lines[lines.index("Global RunQueue info:") + 1]
    assert waiting.startswith("\t[    1.0 ] cpu 0, (10000000, 4000000)")
    assert waiting.endswith("priority_level=1 has_extratime=1")


def test_replenishment_queue_is_ordered_by_level_then_deadline() -> None:
    # a wakes during its extra time (level 1) and is queued for replenishment behind
    # b (level 0), whose deadline is up to 100 ms later: rt.c orders the replenishment
    # queue with compare_unit_priority, so a's replenishment waits for b's.
    host = _host(1, dom0_vcpus=1)
    a = host.create("a", workload="duty:busy_ms=15,idle_ms=1")
    b = host.create("b", workload="cpu")
    host.toolstack.sched_params(a, {"period": 10_000, "budget": 2_000, "extratime": 1})
    host.toolstack.sched_params(b, {"period": 100_000, "budget": 1_000, "extratime": 0})
    lag: list[int] = []

    def check() -> None:
        svc = a.vcpus[0].sched_priv
        if svc.on_replq:
            lag.append(host.now - svc.cur_deadline)

    sampler(host, 100_000, lambda: check())  # type: ignore[func-returns-value]
    host.run(ms=1_000)
    # ordered by deadline alone, a would always be replenished at its deadline (lag <= 0)
    assert max(lag) > 5_000_000


def test_extratime_demotes_a_unit_that_exhausts_its_budget_and_resets_at_its_deadline() -> None:
    host = _host(1, dom0_vcpus=1)
    a = host.create("a", workload="cpu")
    host.toolstack.sched_params(a, {"period": 10_000, "budget": 2_000, "extratime": 1})
    host.run(ns=10_250_000)  # the new parameters apply from the first deadline (10 ms)
    svc = a.vcpus[0].sched_priv
    levels: list[tuple[int, int]] = []  # sampled 250 us off each 500 us boundary
    sampler(host, 500_000, lambda: levels.append(  # type: ignore[func-returns-value]
        (host.now % 10_000_000, svc.priority_level)))
    host.run(ms=100)
    # within each 10 ms period: level 0 for the first 2 ms (the budget), then one
    # level down per further 2 ms of budget burnt, back to 0 at the deadline
    for offset, level in levels:
        assert level == offset // 2_000_000, (offset, level)


def test_edf_prefers_the_lower_level_then_the_earlier_deadline_fifo_among_equals() -> None:
    from xensim.hypervisor.sched.rt import RtUnit, _deadline_queue_insert

    host = _host(1)
    v = host.dom0.vcpus[0]
    q: list[RtUnit] = []
    early = RtUnit(v, cur_deadline=10, priority_level=1)
    late = RtUnit(v, cur_deadline=20)
    tie = RtUnit(v, cur_deadline=20)
    assert _deadline_queue_insert(q, early)  # first in an empty queue
    assert _deadline_queue_insert(q, late)   # level 0 beats level 1 despite its deadline
    assert not _deadline_queue_insert(q, tie)  # equal: behind the one already there
    assert q == [late, tie, early]
    sooner = RtUnit(v, cur_deadline=15)
    assert _deadline_queue_insert(q, sooner) and q[0] is sooner


def test_a_running_unit_is_preempted_only_by_a_strictly_higher_priority() -> None:
    host = _host(1, dom0_vcpus=1)
    a = host.create("a", workload="cpu")
    b = host.create("b", workload="cpu")
    for d in (a, b):  # identical servers: their deadlines always coincide
        host.toolstack.sched_params(d, {"period": 10_000, "budget": 5_000, "extratime": 0})
    host.run(ms=500)
    # with equal deadlines neither preempts the other: each runs its 5 ms whole,
    # so there are two switches per period (50 periods), not more
    assert host.metrics()["sched"]["context_switches"] <= 2 * 50 + 4
    assert shares(host)["a"] == pytest.approx(0.5, abs=0.02)  # 2%: the first period


def test_parameters_read_back_as_integer_microseconds_for_every_vcpu() -> None:
    host = _host(2)
    d = host.create("two", workload="cpu", vcpus=2)
    assert repr(host.toolstack.sched_params(d)) == \
        "{'period': 10000, 'budget': 4000, 'extratime': 1}"
    host.toolstack.sched_params(d, {"period": 20_000})  # budget kept, both vCPUs
    sched = host.hv.pools[0].sched
    for v in d.vcpus:
        assert repr(sched.adjust_vcpu(v)) == "{'period': 20000, 'budget': 4000, 'extratime': 1}"
    host.toolstack.sched_params(d, {"budget": 7_000})  # period kept
    assert sched.adjust_vcpu(d.vcpus[1])["period"] == 20_000
    with pytest.raises(LibxlError, match="known: period, budget, extratime"):
        host.toolstack.sched_params(d, {"slice": 1})


@pytest.mark.parametrize("period, budget, ok", [
    (10, 10, True), (9, 9, False), (100, 10, True), (100, 9, False), (100, 100, True),
    (100, 101, False),
])
def test_budget_and_period_bounds_are_inclusive(period: int, budget: int, ok: bool) -> None:
    host = _host(1)
    d = host.create("d", workload="idle")
    if ok:
        host.toolstack.sched_params(d, {"period": period, "budget": budget})
        assert host.toolstack.sched_params(d)["budget"] == budget
    else:
        with pytest.raises(LibxlError, match="budget|period"):
            host.toolstack.sched_params(d, {"period": period, "budget": budget})
    with pytest.raises(LibxlError, match="must be integers"):
        host.toolstack.sched_params(d, {"period": "x"})


def test_turning_extratime_on_while_depleted_waits_for_the_replenishment() -> None:
    host = _host(1, dom0_vcpus=1)
    a = host.create("a", workload="cpu")
    host.toolstack.sched_params(a, {"budget": 2_000, "extratime": 0})
    host.run(ms=13)  # 10 ms: new parameters; 12 ms: budget gone
    svc = a.vcpus[0].sched_priv
    sched = host.hv.pools[0].sched
    assert svc.depleted and svc in sched.depletedq and not a.vcpus[0].is_running
    host.toolstack.sched_params(a, {"extratime": 1})
    # rt_dom_cntl only sets the flag: still depleted, the pCPU idles until 20 ms
    assert svc.extratime and svc.depleted and svc in sched.depletedq
    host.run(ms=6)
    assert not a.vcpus[0].is_running
    host.run(ms=2)
    assert a.vcpus[0].is_running and svc.cur_deadline == 30_000_000


def test_a_depleted_unit_is_requeued_and_runs_at_its_replenishment() -> None:
    host = _host(1, dom0_vcpus=1)
    a = host.create("a", workload="cpu")
    host.toolstack.sched_params(a, {"budget": 2_000, "extratime": 0})
    host.run(ms=19)
    svc = a.vcpus[0].sched_priv
    assert svc.depleted and not a.vcpus[0].is_running
    host.run(ms=2)  # the 20 ms deadline: budget back, tickled, running
    assert not svc.depleted and a.vcpus[0].is_running
    assert svc.cur_deadline == 30_000_000


def _running_and_waiting(host: Host):  # type: ignore[no-untyped-def]
    """Two CPU hogs a and b on one pCPU, 1 ms in: (the running unit, the queued one)."""
    a = host.create("a", workload="cpu").vcpus[0]
    b = host.create("b", workload="cpu").vcpus[0]
    host.run(ms=1)
    run, wait = (a, b) if a.is_running else (b, a)
    return run.sched_priv, wait.sched_priv


def _due_now(sched, now: int, *units) -> None:  # type: ignore[no-untyped-def]
    """Move each unit's replenishment to *now*, through the queue as rt.c would."""
    for svc in units:
        sched._replq_remove(svc)
        svc.cur_deadline = now
        sched._replq_insert(svc)


def test_replenishing_a_running_unit_tickles_only_for_a_strictly_higher_priority() -> None:
    host = _host(1, dom0_vcpus=1)
    sr, sw = _running_and_waiting(host)
    sched = host.hv.pools[0].sched
    _due_now(sched, host.now, sr, sw)  # both get (level 0, now + 10 ms)
    sched.tickled.clear()
    sched._repl_timer_handler()
    assert sched.tickled == set()  # equal keys: the running unit keeps the pCPU
    sr.period = 20_000_000  # its next deadline is later
    _due_now(sched, host.now, sr)
    sched._repl_timer_handler()
    assert sched.tickled == {0}  # the queued head now outranks it: preempt


def test_destroying_a_queued_domain_takes_it_off_both_queues() -> None:
    host = _host(1, dom0_vcpus=1)
    host.create("a", workload="cpu")
    b = host.create("b", workload="cpu")
    host.run(ms=1)
    sched = host.hv.pools[0].sched
    svc = b.vcpus[0].sched_priv
    assert svc in sched.runq and svc in sched.replq
    host.xl("destroy b")
    assert svc not in sched.runq and svc not in sched.replq


def test_a_pcpu_leaving_an_rtds_pool_is_forgotten() -> None:
    host = _host(3, dom0_vcpus=1)
    sched = host.hv.pools[0].sched
    sched.tickled.add(2)
    host.toolstack.cpupool_cpu_remove(host.hv.pools[0], 2)
    assert 2 not in sched.tickled and host.hv.pcpus[2].sched_priv is None
    assert "CPU[02]" not in sched.dump()


def test_dump_lists_each_pcpu_and_the_three_queues() -> None:
    host = _host(1, dom0_vcpus=1)
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    host.toolstack.sched_params(host.domain("b"), {"extratime": 0, "budget": 1_000})
    host.run(ms=15)
    text = host.hv.pools[0].sched.dump()
    assert text.endswith("\n") and not text.endswith("\n\n")
    lines = text.splitlines()
    assert lines[0] == "Scheduler: SMP RTDS Scheduler (rtds)" and lines[1] == "CPU[00]"
    assert lines[2].startswith("\t[    1.0 ] cpu 0, (10000000, 4000000), cur_b=")
    i, j, k = (lines.index(h) for h in ("Global RunQueue info:", "Global DepletedQueue info:",
                                         "Global Replenishment Events info:"))
    assert lines[j + 1].startswith("\t[    2.0 ]") and j + 2 == k  # b: depleted
    assert all(ln.startswith("\t[") for ln in lines[i + 1:j] + lines[k + 1:])
    assert "priority_level=0 has_extratime=0" in lines[j + 1]


def test_a_unit_queued_behind_the_only_one_is_not_at_the_front() -> None:
    from xensim.hypervisor.sched.rt import RtUnit, _deadline_queue_insert

    host = _host(1)
    v = host.dom0.vcpus[0]
    first, later = RtUnit(v, cur_deadline=10), RtUnit(v, cur_deadline=20)
    q = [first]
    # deadline_queue_insert returns true only when the unit lands at the head (the
    # caller then re-arms the replenishment timer for it)
    assert not _deadline_queue_insert(q, later) and q == [first, later]


def test_rtds_has_no_global_parameters() -> None:
    with pytest.raises(Exception, match="rtds scheduler has no global parameters"):
        Host(pcpus=1, scheduler="rtds", sched={"tslice_ms": 5})


def _unit(host: Host, name: str = "a"):  # type: ignore[no-untyped-def]
    return host.domain(name).vcpus[0].sched_priv


def test_burn_budget_burns_nanoseconds_and_demotes_or_depletes_at_zero() -> None:
    host = _host(1, dom0_vcpus=1)
    host.create("a", workload="idle")
    sched, svc = host.hv.pools[0].sched, _unit(host)
    svc.budget, svc.cur_budget, svc.last_start = 1_000, 10, 100
    sched._burn_budget(svc, 109)  # 1 ns left: still level 0, not depleted
    assert (svc.cur_budget, svc.last_start, svc.priority_level) == (1, 109, 0)
    sched._burn_budget(svc, 110)  # exactly exhausted, with extratime: one level down,
    assert (svc.cur_budget, svc.priority_level) == (1_000, 1)  # a full budget again
    svc.extratime, svc.cur_budget = False, 5
    sched._burn_budget(svc, 117)  # overrun by 2 ns without extratime: depleted at 0
    assert (svc.cur_budget, svc.depleted, svc.priority_level) == (0, True, 1)


def test_update_deadline_jumps_to_the_first_period_boundary_after_now() -> None:
    host = _host(1, dom0_vcpus=1)
    host.create("a", workload="idle")
    sched, svc = host.hv.pools[0].sched, _unit(host)
    svc.period, svc.budget, svc.priority_level = 10_000_000, 4_000_000, 2
    svc.cur_deadline, svc.cur_budget = 10_000_000, 5
    sched._update_deadline(25_000_000, svc)  # 1.5 periods late: the next boundary
    assert svc.cur_deadline == 30_000_000 and type(svc.cur_deadline) is int
    assert (svc.cur_budget, svc.priority_level, svc.last_start) == (4_000_000, 0, 25_000_000)
    sched._update_deadline(30_000_000, svc)  # at the deadline itself: a new period
    assert svc.cur_deadline == 40_000_000


def test_removing_the_head_of_the_replenishment_queue_rearms_the_timer() -> None:
    host = _host(1, dom0_vcpus=1)
    host.create("a", workload="idle")
    host.create("b", workload="idle")
    sched = host.hv.pools[0].sched
    a, b = _unit(host, "a"), _unit(host, "b")
    for svc in sched.replq[:]:
        sched._replq_remove(svc)
    assert not sched.repl_timer.active  # empty queue: timer stopped
    # level before deadline: a (level 0, 30 ms) heads b (level 1, 20 ms)
    a.cur_deadline, a.priority_level = 30_000_000, 0
    b.cur_deadline, b.priority_level = 20_000_000, 1
    sched._replq_insert(a)
    sched._replq_insert(b)
    assert sched.replq == [a, b] and sched.repl_timer.expires == 30_000_000
    sched._replq_remove(a)  # the head leaves: the timer follows the new head
    assert sched.repl_timer.active and sched.repl_timer.expires == 20_000_000
    sched._replq_remove(b)
    assert not sched.repl_timer.active


def test_replenishing_a_queued_unit_that_was_not_depleted_tickles_no_one() -> None:
    host = _host(1, dom0_vcpus=1)
    sr, sw = _running_and_waiting(host)
    sched = host.hv.pools[0].sched
    sr.priority_level = 1  # the running unit is in its extra time: sw will outrank it
    _due_now(sched, host.now, sw)
    sched.tickled.clear()
    sched._repl_timer_handler()
    # repl_timer_handler tickles for a replenished unit that is not running only if
    # it was depleted; sw waits for the running unit's slice to end
    assert sw.cur_deadline == host.now + 10_000_000 and sched.tickled == set()


def test_a_running_unit_with_budget_left_keeps_its_pcpu_when_nothing_outranks_it() -> None:
    host = _host(1, dom0_vcpus=1)
    a = host.create("a", workload="cpu").vcpus[0]
    host.run(ms=11)
    svc, pcpu = a.sched_priv, host.hv.pcpus[0]
    assert pcpu.curr is a and host.hv.pools[0].sched.runq == []
    switches = host.metrics()["sched"]["context_switches"]
    svc.cur_budget = host.now - svc.last_start + 1  # 1 ns of budget left now
    host.hv.core.schedule(pcpu)
    assert pcpu.curr is a and svc.cur_budget == 1 and svc.priority_level == 0
    assert pcpu.s_timer.expires == host.now + 1  # its next decision: when the budget ends
    assert host.metrics()["sched"]["context_switches"] == switches


def test_an_rtds_pool_made_of_credit_pcpus_gives_each_vcpu_its_budget() -> None:
    host = Host(pcpus=3, seed=1, dom0_vcpus=1)  # credit: pool 0 gives its idle vCPUs
    pool0 = host.hv.pools[0]                   # credit's own per-unit data
    for c in (1, 2):
        host.toolstack.cpupool_cpu_remove(pool0, c)
    pool = host.toolstack.cpupool_create("rt", "rtds", "1-2")
    d = host.create("d", workload="cpu", pool="rt")
    host.toolstack.sched_params(d, {"budget": 3_000, "extratime": 0})
    host.run(ms=10)
    host.reset_metrics()
    host.run(ms=100)
    assert pool.sched.name == "rtds"
    # rel=1e-4: exact but for a context switch straddling the window edge
    assert host.metrics()["domains"]["d"]["cpu_ns"] == pytest.approx(30e6, rel=1e-4)


def test_inserting_a_runnable_unit_queues_it_and_its_replenishment() -> None:
    host = _host(1, dom0_vcpus=1)
    run, wait = _running_and_waiting(host)
    sched = host.hv.pools[0].sched
    for svc in (run, wait):
        sched.remove(svc.vcpu)  # rt_unit_remove: off the run and replenishment queues
        assert not svc.on_q and not svc.on_replq
    assert sched.runq == [] and sched.replq == [] and not sched.repl_timer.active
    host.run(ms=9)  # at 10 ms both deadlines are due
    for svc in (run, wait):
        assert svc.cur_deadline == host.now
        sched.insert(svc.vcpu)  # rt_unit_insert: a new period from now, queued for it
        assert svc.cur_deadline == host.now + 10_000_000 and svc.on_replq
    # the running unit is not put on the run queue; the other one is
    assert sched.runq == [wait] and run in sched.replq
    assert sched.repl_timer.expires == host.now + 10_000_000


def test_a_unit_without_extratime_is_depleted_only_at_zero_budget_newest_first() -> None:
    host = _host(1, dom0_vcpus=1)
    for name in ("a", "b", "c"):
        host.create(name, workload="idle")
    host.run(ms=1)  # all three blocked: on no queue
    sched = host.hv.pools[0].sched
    a, b, c = (_unit(host, n) for n in "abc")
    assert not (a.on_q or b.on_q or c.on_q)
    for svc in (a, b, c):
        svc.extratime = False
    a.cur_budget, b.cur_budget, c.cur_budget = 0, 0, 1
    sched._runq_insert(a)
    sched._runq_insert(b)
    sched._runq_insert(c)  # 1 ns left: still on the run queue
    # rt.c's runq_insert: list_add puts each depleted unit at the head of its queue
    assert sched.depletedq == [b, a] and c in sched.runq


def test_tickle_preempts_the_first_lowest_priority_pcpu_from_the_units_own() -> None:
    host = _host(2, dom0_vcpus=1)
    a = host.create("a", workload="cpu").vcpus[0]
    b = host.create("b", workload="cpu").vcpus[0]
    c = host.create("c", workload="idle").vcpus[0]
    host.run(ms=1)
    sched = host.hv.pools[0].sched
    assert {a.processor.cpu_id, b.processor.cpu_id} == {0, 1} and a.is_running
    assert _key(a.sched_priv) == _key(b.sched_priv) == (0, 10_000_000)
    c.sched_priv.cur_deadline = 5_000_000  # beats both running units (10 ms)
    for start in (0, 1):  # equal keys: runq_tickle keeps the first one it visits
        c.processor = host.hv.pcpus[start]
        sched.tickled.clear()
        sched._tickle(c.sched_priv)
        assert sched.tickled == {start}


def test_tickle_looks_only_at_pcpus_in_the_units_affinity() -> None:
    host = _host(2, dom0_vcpus=1)
    a = host.create("a", workload="cpu", cpus="0").vcpus[0]
    c = host.create("c", workload="idle", cpus="0").vcpus[0]
    host.run(ms=1)
    sched = host.hv.pools[0].sched
    assert a.is_running and host.hv.pcpus[1].curr.is_idle
    c.sched_priv.cur_deadline = 5_000_000
    sched.tickled.clear()
    sched._tickle(c.sched_priv)  # pCPU 1 is idle but not c's: preempt a on pCPU 0
    assert sched.tickled == {0}


def test_pick_cpu_keeps_an_allowed_pcpu_else_takes_the_next_allowed_one() -> None:
    host = _host(4, dom0_vcpus=1)
    v = host.create("a", workload="idle").vcpus[0]
    sched = host.hv.pools[0].sched
    v.processor = host.hv.pcpus[1]
    v.hard_affinity = frozenset({0, 1, 3})
    assert sched.pick_cpu(v).cpu_id == 1
    v.hard_affinity = frozenset({0, 3})  # rt_res_pick: cpumask_cycle after pCPU 1
    assert sched.pick_cpu(v).cpu_id == 3


def test_a_running_unit_that_blocks_and_is_woken_at_once_keeps_one_replenishment() -> None:
    host = _host(1, dom0_vcpus=1)
    a = host.create("a", workload="cpu").vcpus[0]
    host.run(ms=1)
    sched, svc = host.hv.pools[0].sched, a.sched_priv
    assert a.is_running and svc.on_replq and not svc.on_q
    host.hv.core.vcpu_block(a)  # an event arrives in the same instant: still on its
    host.hv.core.vcpu_unblock(a)  # pCPU, so rt_unit_wake has nothing to do
    assert sched.replq.count(svc) == 1 and svc not in sched.runq
    host.run(ms=1)
    assert a.is_running and sched.replq.count(svc) == 1


def test_a_unit_woken_exactly_at_its_deadline_starts_a_new_period() -> None:
    host = _host(1, dom0_vcpus=1)
    v = host.create("a", workload="idle").vcpus[0]
    host.run(ms=3)
    sched, svc = host.hv.pools[0].sched, v.sched_priv
    assert not v.runnable and not svc.on_q and not svc.on_replq
    svc.cur_deadline, svc.cur_budget = host.now, 7  # its deadline is now
    sched.wake(v)
    assert svc.cur_deadline == host.now + 10_000_000 and svc.cur_budget == 4_000_000


def test_a_replenished_running_unit_tied_with_the_queue_head_tickles_no_one() -> None:
    host = _host(2, dom0_vcpus=1)
    for name in ("a", "b", "c"):
        host.create(name, workload="cpu")
    host.run(ms=1)
    sched = host.hv.pools[0].sched
    run0, run1 = (host.hv.pcpus[c].sched_priv.curr for c in (0, 1))
    (wait,) = sched.runq
    run1.priority_level = 1  # pCPU 1 runs a unit in its extra time
    _due_now(sched, host.now, run0, wait)  # both get (level 0, now + 10 ms)
    sched.tickled.clear()
    sched._repl_timer_handler()
    # repl_timer_handler tickles for the running run0 only if the queue head strictly
    # outranks it, and not for wait (not depleted): wait outranks run1 but waits for
    # run1's slice to end, as in Xen
    assert _key(wait) == _key(run0) < _key(run1) and sched.tickled == set()
