"""credit2.c decision details, each checked against Xen 4.19's source.

Small, exact checks of what burn_credits, tickle_score/runq_tickle, the yield flag,
park_unit and balance_load's unit_is_migrateable decide, in controlled states (paused
guests, credits set by hand) so that each test tells the behaviour from its absence.
"""

from __future__ import annotations

import pytest

from xensim.host import Host
from xensim.hypervisor.sched.credit2 import (
    CSCHED2_CREDIT_INIT,
    LOADAVG_GRANULARITY_SHIFT,
    Credit2Scheduler,
    Csched2Unit,
)


def _host(pcpus: int, **kw) -> Host:  # type: ignore[no-untyped-def]
    return Host(pcpus=pcpus, scheduler="credit2", seed=1, dom0_vcpus=1, **kw)


def _sched(host: Host) -> Credit2Scheduler:
    sched = host.hv.pools[0].sched
    assert isinstance(sched, Credit2Scheduler)
    return sched


def _running(host: Host, cpu: int) -> Csched2Unit:
    cur = host.hv.pcpus[cpu].sched_priv.curr
    assert cur is not None
    return cur


def test_short_burns_carry_the_remainder_and_add_up_to_one_long_burn() -> None:
    # t2c_update: val = time * max_weight + residual; residual = val % weight;
    # credit -= val / weight.  Three 1 ns burns at weight 3 (max_weight 256) burn
    # 85, 85 and 86 credits: exactly 3 * 256 / 3, as one 3 ns burn does.
    host = _host(1)
    d = host.create("d", workload="cpu", cpu_weight=3, paused=True)
    sched = _sched(host)
    svc = d.vcpus[0].sched_priv
    assert svc.rqd.max_weight == 256 and svc.weight == 3
    t = svc.start_time = host.now
    start = svc.credit
    burnt = []
    for _ in range(3):
        before = svc.credit
        t += 1
        sched._burn_credits(svc, t)
        burnt.append((before - svc.credit, svc.residual))
    assert burnt == [(85, 1), (85, 2), (86, 0)]
    assert start - svc.credit == 256


def test_a_queued_unit_parked_leaves_the_queue_and_its_load_by_one() -> None:
    # park_unit of a queued unit: list_del_init(runq_elem) and update_load(-1).
    host = _host(1)
    capped = host.create("capped", workload="cpu", cap=50)
    host.create("hog", workload="cpu")
    sched = _sched(host)
    rqd = sched.rqds[0]
    svc = capped.vcpus[0].sched_priv
    host.run(ms=5)
    while not svc.on_runq:
        host.run(ms=1)
    load = rqd.load
    svc.load_last_update = 0
    sched._park(svc)
    assert svc.parked and not svc.on_runq and svc not in rqd.runq
    assert rqd.load == load - 1
    assert svc.load_last_update == host.now >> LOADAVG_GRANULARITY_SHIFT  # its own, too


def test_a_waking_unit_does_not_tickle_a_pcpu_still_within_its_rate_limit() -> None:
    # tickle_score returns -1 (never a candidate) for a pCPU whose unit has run less
    # than the rate limit minus CSCHED2_RATELIMIT_TICKLE_TOLERANCE (is_preemptable),
    # whatever the credits; past it, the same wake-up tickles that pCPU.  With no rate
    # limit ("ratelimit <= CSCHED2_RATELIMIT_TICKLE_TOLERANCE") it is preemptable at once.
    host = _host(1)
    host.create("hog", workload="cpu")
    w = host.create("w", workload="cpu", paused=True)
    host.run(ms=5)
    sched = _sched(host)
    rqd = sched.rqds[0]
    cur = _running(host, 0)
    new = w.vcpus[0].sched_priv
    new.credit = CSCHED2_CREDIT_INIT + 500_000
    cur.credit = 0
    cur.start_time = host.now
    rqd.tickled.clear()
    within = cur.vcpu.state_entry_time + sched.ratelimit - 50_000  # at the tolerance
    assert sched._tickle_score(new, 0, within) == -1
    sched._tickle(new, within)
    assert rqd.tickled == set() and new.tickled_cpu == -1
    past = within + 1
    assert sched._tickle_score(new, 0, past) > 0
    sched._tickle(new, past)
    assert rqd.tickled == {0} and new.tickled_cpu == 0
    sched.ratelimit = 0
    assert sched._tickle_score(new, 0, cur.vcpu.state_entry_time) > 0


def _tickle_host(busy0: bool) -> tuple[Host, Credit2Scheduler, Csched2Unit, int]:
    """pCPU 1 runs a hog (and pCPU 0 another if *busy0*, else it idles); a paused guest's
    unit, last on pCPU 1, about to be woken; both hogs preemptable, credits at 1 ms."""
    host = _host(2)
    if busy0:
        host.create("h0", workload="cpu", cpus="0")
    host.create("h1", workload="cpu", cpus="1")
    w = host.create("w", workload="cpu", paused=True)
    host.run(ms=5)
    sched = _sched(host)
    new = w.vcpus[0].sched_priv
    new.vcpu.processor = host.hv.pcpus[1]
    now = host.now + sched.ratelimit
    for cpu in (0, 1) if busy0 else (1,):
        cur = _running(host, cpu)
        cur.credit, cur.start_time = 1_000_000, now
    sched.rqds[0].tickled.clear()
    return host, sched, new, now


def test_the_migration_resistance_counts_against_other_pcpus_not_the_units_own() -> None:
    # tickle_score: score = new.credit - cur.credit, minus CSCHED2_MIGRATE_RESIST when the
    # pCPU is not new's own; a positive score gets CREDIT_INIT for new's soft affinity
    # (no soft affinity: every pCPU) and none for cur's.  runq_tickle then prefers the
    # unit's own pCPU: a 300 us lead preempts there but nowhere else.
    host, sched, new, now = _tickle_host(busy0=True)
    rqd = sched.rqds[0]
    new.credit = 1_300_000
    assert sched._tickle_score(new, 1, now) == 300_000 + CSCHED2_CREDIT_INIT
    assert sched._tickle_score(new, 0, now) == 300_000 - sched.migrate_resist  # < 0
    rqd.tickled.clear()
    sched._tickle(new, now)
    assert rqd.tickled == {1} and new.tickled_cpu == 1
    new.credit = 1_600_000  # past the resistance, the other pCPU scores too
    assert sched._tickle_score(new, 0, now) == 100_000 + CSCHED2_CREDIT_INIT


def test_a_yielding_unit_lets_a_queued_one_with_far_less_credit_run_at_once() -> None:
    # runq_candidate: a yield (CSFLAG_unit_yield, cleared when read) skips the rate limit
    # and takes the first runnable queued unit whatever its credit.  Without the yield
    # the same reschedule keeps the running unit (within its rate limit, and with more
    # credit anyway).
    def setup(yield_: bool) -> tuple[Host, Csched2Unit, Csched2Unit]:
        host = _host(1)
        a = host.create("a", workload="cpu", paused=True)
        b = host.create("b", workload="cpu", paused=True)
        host.run(ms=1)
        host.xl("unpause a")
        host.run(ms=5)
        sa, sb = a.vcpus[0].sched_priv, b.vcpus[0].sched_priv
        sb.credit = -5_000_000  # too little to preempt a when it wakes
        host.xl("unpause b")
        host.run(ns=1)
        assert a.vcpus[0].is_running and sb.on_runq
        sched = _sched(host)
        sched._burn_credits(sa, host.now)
        sb.credit = sa.credit - 3_000_000  # far less credit than the running unit
        sa.vcpu.state_entry_time = host.now  # and well within the rate limit
        if yield_:
            host.hv.core.vcpu_yield(sa.vcpu)
        else:
            host.hv.core.raise_softirq(host.hv.pcpus[0])
        host.run(ns=1)
        return host, sa, sb

    _, sa, sb = setup(yield_=False)
    assert sa.vcpu.is_running and sb.on_runq
    _, sa, sb = setup(yield_=True)
    assert sb.vcpu.is_running and sa.on_runq and not sa.yielding


def _two_loaded_queues(n: int) -> tuple[Host, Credit2Scheduler, list[Csched2Unit], int]:
    """Two one-pCPU run queues; *n* paused single-vCPU guests, all on pCPU 0's queue, and
    the load averages brought up to a common instant (returned) so that a test can set
    them by hand."""
    host = _host(2, xen_cmdline="sched=credit2 credit2_runqueue=cpu")
    doms = [host.create(f"d{i}", workload="cpu", cpus="0", paused=True) for i in range(n)]
    sched = _sched(host)
    now = host.now + 1_000_000
    for rqd in sched.rqds:
        sched._update_runq_load(rqd, 0, now)
    units = [d.vcpus[0].sched_priv for d in doms]
    assert all(s.rqd is sched.rqds[0] for s in units)
    return host, sched, units, now


def _set_loads(sched: Credit2Scheduler, loads: dict[Csched2Unit, float], now: int) -> None:
    """Each unit's average load (others, i.e. Domain-0's, none), as of *now*."""
    p = sched.load_precision_shift
    for rqd in sched.rqds:
        for s in rqd.svc:
            s.avgload = int(loads.get(s, 0) * (1 << p))
            s.load_last_update = now >> LOADAVG_GRANULARITY_SHIFT


def test_balance_load_pushes_only_units_allowed_on_the_other_queue() -> None:
    # balance_load considers a unit only if unit_is_migrateable: its hard affinity meets
    # the other queue's pCPUs.  Three units pinned to pCPU 0 carry a full load each and
    # one free unit a quarter: the gap (3.25 vs 0) would narrow most by moving a pinned
    # one, but only the free one may go.
    host, sched, units, now = _two_loaded_queues(4)
    rq0, rq1 = sched.rqds
    units[3].vcpu.hard_affinity = frozenset({0, 1})
    _set_loads(sched, {units[0]: 1, units[1]: 1, units[2]: 1, units[3]: 0.25}, now)
    p = sched.load_precision_shift
    rq0.b_avgload, rq1.b_avgload = (13 << p) // 4, 0
    moves = sched.stats["balance"]
    sched._balance_load(rq0, 0, now)
    assert [s.rqd for s in units] == [rq0, rq0, rq0, rq1]
    assert sched.stats["balance"] == moves + 1


def test_balance_load_pulls_from_the_busier_queue_when_ours_has_nothing_to_push() -> None:
    # balance_load from a queue with no units: only "pull" moves are considered
    # (consider(st, NULL, pull)); the unit whose move narrows the gap most comes over.
    host, sched, units, now = _two_loaded_queues(3)
    rq0, rq1 = sched.rqds
    for s in units:
        s.vcpu.hard_affinity = frozenset({0, 1})
    for s in rq1.svc:  # Domain-0's unit, if it sits on pCPU 1's queue: never pushed
        s.vcpu.hard_affinity = frozenset({1})
    _set_loads(sched, {units[0]: 0.25, units[1]: 1, units[2]: 1}, now)
    p = sched.load_precision_shift
    rq0.b_avgload, rq1.b_avgload = (9 << p) // 4, 0
    moves = sched.stats["balance"]
    sched._balance_load(rq1, 1, now)
    assert [s.rqd for s in units] == [rq0, rq1, rq0]  # 2.25 vs 0 -> 1.25 vs 1
    assert units[1].vcpu.processor.cpu_id == 1
    assert sched.stats["balance"] == moves + 1


def test_a_units_balancing_load_leaves_its_queue_floored_at_zero() -> None:
    # runq_deassign: b_avgload -= svc->avgload, never below 0 (max_t(..., 0)).
    host, sched, units, now = _two_loaded_queues(1)
    rq0 = sched.rqds[0]
    svc = units[0]
    rq0.b_avgload = svc.avgload - 5
    sched._runq_deassign(svc)
    assert rq0.b_avgload == 0
    sched._runq_assign(svc, rq0)
    rq0.b_avgload = svc.avgload + 5
    sched._runq_deassign(svc)
    assert rq0.b_avgload == 5


def test_budget_is_granted_down_to_the_last_nanosecond_and_returned_only_if_positive() -> None:
    # unit_grab_budget: any domain budget above 0 is handed out (here 1 ns); at 0 the unit
    # is parked.  unit_return_budget unparks the domain's parked units only if the
    # domain's budget is then above 0.  replenish_domain_budget unparks them only if
    # its budget is above 0 once the period's budget is added.
    host = _host(1)
    d = host.create("d", workload="cpu", vcpus=2, cap=50, paused=True)
    sched = _sched(host)
    a, b = (v.sched_priv for v in d.vcpus)
    sdom = a.sdom
    a.budget, sdom.budget = 0, 1
    assert sched._grab_budget(a) and a.budget == 1 and sdom.budget == 0
    sdom.parked, b.parked = [b], True
    a.budget, sdom.budget = 0, 0
    assert sched._return_budget(a) == [] and sdom.parked == [b]  # 0 left: no unpark
    a.budget, sdom.budget = 1, 0
    assert sched._return_budget(a) == [b] and sdom.budget == 1
    sdom.parked = [b]
    sdom.budget, sdom.next_repl = 1 - sdom.tot_budget, host.now
    sched._replenish(sdom)  # 1 ns above 0 after the period's budget: unparked
    assert sdom.budget == 1 and sdom.parked == [] and not b.parked


def test_parking_nests_with_other_pauses_of_the_vcpu() -> None:
    # park_unit sets _VPF_parked, a pause of its own: a vCPU already paused stays paused
    # when unparked (xensim counts it in pause_count).
    host = _host(1)
    d = host.create("d", workload="cpu", cap=50, paused=True)
    sched = _sched(host)
    svc = d.vcpus[0].sched_priv
    svc.vcpu.pause_count = 1  # paused for another reason (vcpu_pause)
    sched._park(svc)
    assert svc.vcpu.pause_count == 2
    sched._unpark([svc])
    assert svc.vcpu.pause_count == 1 and not svc.parked


def _running_capped() -> tuple[Host, Credit2Scheduler, Csched2Unit]:
    """A 1-pCPU host whose only guest (capped at 50%) runs, charged up to now."""
    host = _host(1)
    d = host.create("d", workload="cpu", cap=50)
    host.run(ms=2)
    sched = _sched(host)
    svc = d.vcpus[0].sched_priv
    assert svc.vcpu.is_running
    sched._burn_credits(svc, host.now)
    return host, sched, svc


def test_a_running_capped_unit_with_its_budget_exactly_used_is_parked_at_the_reschedule() -> None:
    # csched2_schedule: "if ( unlikely(scurr->budget <= 0) ) unit_grab_budget(scurr)": at
    # exactly 0, with the domain's budget used up too, the unit is parked and switched out.
    host, sched, svc = _running_capped()
    svc.budget, svc.sdom.budget = 0, 0
    host.hv.core.raise_softirq(host.hv.pcpus[0])
    host.run(ns=1)
    assert svc.parked and not svc.vcpu.is_running


def test_destroying_a_capped_domain_stops_its_replenishment_timer() -> None:
    # csched2_free_domdata: kill_timer(sdom->repl_timer).
    host = _host(1)
    d = host.create("d", workload="cpu", cap=20)
    host.run(ms=15)
    timer = d.sched_priv.repl_timer
    assert timer is not None and timer.active
    host.xl("destroy d")
    assert not timer.active


def test_capping_a_domain_makes_each_unit_grab_a_quota_before_it_runs() -> None:
    # csched2_dom_cntl, cap going from 0 to N: the domain gets tot_budget, each unit's
    # budget is set to 0 so that it takes its quota (unit_grab_budget) the first time
    # it is picked to run.
    host = _host(1)
    d = host.create("d", workload="cpu", vcpus=2, paused=True)
    host.toolstack.sched_params(d, {"cap": 50})
    a, b = (v.sched_priv for v in d.vcpus)
    sdom = a.sdom
    assert (a.budget, b.budget) == (0, 0) and sdom.budget == sdom.tot_budget
    quota = a.budget_quota
    assert quota == sdom.tot_budget // 2
    host.xl("unpause d")
    while not (a.vcpu.is_running or b.vcpu.is_running):
        host.run(ns=10_000)
    assert sdom.budget == sdom.tot_budget - quota  # the first to run took its quota


def _free_unit_on_queue0(host: Host, load: float,
                         loads: tuple[float, ...]) -> tuple[Credit2Scheduler, Csched2Unit, int]:
    """A paused unit placed on queue 0 (pinned to pCPU 0 at creation), then free to go
    anywhere, with an average load of *load* vCPUs; Domain-0's unit kept on queue 0's
    pCPUs; the queues' balancing loads (b_avgload) set to *loads*, all as of the
    returned instant."""
    d = host.create("d", workload="cpu", cpus="0", paused=True)
    sched = _sched(host)
    now = host.now + 1_000_000
    for rqd in sched.rqds:
        sched._update_runq_load(rqd, 0, now)
    svc = d.vcpus[0].sched_priv
    svc.vcpu.hard_affinity = host.hv.pools[0].cpu_ids
    _set_loads(sched, {svc: load}, now)
    rq0 = sched.rqds[0]
    for s in rq0.svc:
        if s is not svc:
            s.vcpu.hard_affinity = frozenset(rq0.active)
    p = sched.load_precision_shift
    for rqd, rq_load in zip(sched.rqds, loads, strict=True):
        rqd.b_avgload = int(rq_load * (1 << p))
    return sched, svc, now


def _three_queues(loads: tuple[float, float, float]) -> tuple[Credit2Scheduler, list, int]:
    """Three one-pCPU run queues with the given balancing loads; a unit with a full load
    on queue 0, free to go anywhere."""
    host = _host(3, xen_cmdline="sched=credit2 credit2_runqueue=cpu")
    sched, svc, now = _free_unit_on_queue0(host, 1, loads)
    return sched, [svc, *sched.rqds], now


def test_balance_load_pushes_to_the_first_of_two_equally_distant_queues() -> None:
    # balance_load keeps the first queue whose gap is strictly the largest.
    sched, (svc, rq0, rq1, rq2), now = _three_queues((3, 0, 0))
    sched._balance_load(rq0, 0, now)
    assert svc.rqd is rq1


def test_balance_load_takes_its_tolerance_from_the_last_queue_of_the_list() -> None:
    # Xen 4.19 compares load_max/cpus_max with st.orqd, the *last* queue of the list
    # after the loop, not the one with the largest gap.  Our 0.9 against queue 1's 0 is
    # the largest gap, under capacity (tolerance: 1 whole vCPU, not met) if judged with
    # queue 1, but queue 2's 1.2 makes it "over capacity" (tolerance 1/8): it moves.
    sched, (svc, rq0, rq1, rq2), now = _three_queues((0.9, 0, 1.2))
    svc.avgload = (1 << sched.load_precision_shift) // 2
    sched._balance_load(rq0, 0, now)
    assert svc.rqd is rq1


def _two_cpu_queues(l0: float, l1: float) -> tuple[Credit2Scheduler, Csched2Unit, int]:
    """Two run queues of two pCPUs (credit2_runqueue=core on 1x2x2) with balancing loads
    l0 and l1; a unit with a quarter load on queue 0, free to go anywhere."""
    host = Host(topology="1x2x2", xen_cmdline="sched=credit2 credit2_runqueue=core",
                dom0_vcpus=1, seed=1)
    return _free_unit_on_queue0(host, 0.25, (l0, l1))


@pytest.mark.parametrize("l0, l1, moves", [
    (1.0, 0.5, False),  # under capacity (< 2 vCPUs on 2 pCPUs): a gap of 0.5 < 1 is kept
    (1.5, 0.5, True),   # under capacity, a gap of exactly 1: balanced
    (2.0, 1.5, True),   # at capacity (2 on 2 pCPUs): "over", a gap of 0.5 >= 1/8 moves
    (2.0, 1.9, False),  # over, but a gap of 0.1 < 1/8 is kept
])
def test_balance_load_tolerates_a_gap_of_one_vcpu_under_capacity_and_an_eighth_over(
        l0: float, l1: float, moves: bool) -> None:
    # balance_load: "If we're under 100% capacity, only shift if load difference is > 1.
    # otherwise, shift if under 12.5%" (credit2_balance_under = 0, _over = -3: the gap
    # must reach 1 << (precision + tolerance)).
    sched, svc, now = _two_cpu_queues(l0, l1)
    rq0, rq1 = sched.rqds
    sched._balance_load(rq0, 0, now)
    assert (svc.rqd is rq1) == moves


def test_balance_load_brings_each_candidates_own_load_average_up_to_date() -> None:
    # balance_load calls update_svc_load(push, 0) for each unit of ours and, once, for
    # each unit of the other queue: a runnable unit's average moves from 0 towards a
    # full load (1 << precision) by the time since its last update over the window.
    host, sched, units, now = _two_loaded_queues(2)
    rq0, rq1 = sched.rqds
    push, pull = units
    push.vcpu.hard_affinity = pull.vcpu.hard_affinity = frozenset({0, 1})
    sched._migrate(pull, rq1, now)
    for s in rq0.svc + rq1.svc:
        if s not in units:  # Domain-0's unit: neither pushed nor pulled
            s.vcpu.hard_affinity = frozenset({s.vcpu.processor.cpu_id})
    for s in units:
        s.vcpu.pause_count = s.vcpu.domain.pause_count = 0  # runnable, not queued
        s.avgload, s.load_last_update = 0, 0
    p = sched.load_precision_shift
    rq0.b_avgload, rq1.b_avgload = 3 << p, 0
    sched._balance_load(rq0, 0, now)
    t = now >> LOADAVG_GRANULARITY_SHIFT
    expected = (t << p) >> sched.load_window_shift
    assert expected > 0 and (push.avgload, pull.avgload) == (expected, expected)
    assert push.load_last_update == pull.load_last_update == t


def test_a_units_own_load_average_is_updated_when_it_sleeps_parks_blocks_or_runs_on() -> None:
    # update_load(ops, rqd, svc, ...) also calls update_svc_load for the unit: when a
    # queued unit is put to sleep (csched2_unit_sleep), when a running one keeps its pCPU
    # (csched2_schedule), and when a running one stops being runnable (context_saved).
    host = _host(1)
    a = host.create("a", workload="cpu")
    b = host.create("b", workload="cpu")
    host.run(ms=5)
    sa, sb = a.vcpus[0].sched_priv, b.vcpus[0].sched_priv
    if sa.on_runq:
        sa, sb = sb, sa
        a, b = b, a
    assert sa.vcpu.is_running and sb.on_runq

    def now() -> int:
        return host.now >> LOADAVG_GRANULARITY_SHIFT

    sb.load_last_update = 0
    host.xl(f"pause {b.name}")  # queued: taken off the queue
    assert sb.load_last_update == now()
    sa.load_last_update = 0
    host.hv.core.raise_softirq(host.hv.pcpus[0])
    host.run(ns=1)  # a runs on, alone
    assert sa.vcpu.is_running and sa.load_last_update == now()
    sa.load_last_update = 0
    host.xl(f"pause {a.name}")  # running: switched out, not runnable
    assert not sa.vcpu.is_running and sa.load_last_update == now()


def test_a_capped_unit_switched_out_gives_back_even_one_nanosecond_of_budget() -> None:
    # csched2_context_saved: "if ( has_cap(svc) && svc->budget > 0 )
    # unit_return_budget(svc)".
    host = _host(1)
    d = host.create("d", workload="cpu", cap=50, paused=True)
    sched = _sched(host)
    svc = d.vcpus[0].sched_priv
    sched._update_load(svc.rqd, svc, 1, host.now)  # as if it had been running
    svc.budget, svc.sdom.budget = 1, 0
    sched._context_saved(svc, host.now)
    assert svc.budget == 0 and svc.sdom.budget == 1


def test_a_unit_with_budget_left_does_not_grab_more() -> None:
    # unit_grab_budget: "if ( svc->budget > 0 ) return true": 1 ns left is enough.
    host = _host(1)
    d = host.create("d", workload="cpu", cap=50, paused=True)
    sched = _sched(host)
    svc = d.vcpus[0].sched_priv
    svc.budget, svc.sdom.budget = 1, 1_000_000
    assert sched._grab_budget(svc) and svc.budget == 1 and svc.sdom.budget == 1_000_000


def test_a_reset_reschedules_a_running_capped_unit_whose_budget_is_used_up() -> None:
    # reset_credit: a running unit is charged (burn_credits) and, "if ( svc->budget <= 0 )",
    # its pCPU is tickled; with budget left it is not.
    host, sched, svc = _running_capped()
    rqd = sched.rqds[0]
    for budget, tickled in ((1, set()), (0, {0})):
        rqd.tickled.clear()
        svc.budget = budget
        sched._reset_credit(rqd, host.now, svc)
        assert rqd.tickled == tickled


def test_a_running_capped_unit_with_budget_left_keeps_it_at_the_reschedule() -> None:
    # csched2_schedule grabs budget only "if ( unlikely(scurr->budget <= 0) )".
    host, sched, svc = _running_capped()
    svc.budget, svc.sdom.budget = 1, 1_000_000
    host.hv.core.raise_softirq(host.hv.pcpus[0])
    host.run(ns=1)
    assert svc.vcpu.is_running and svc.sdom.budget == 1_000_000


def test_soft_affinity_bonuses_in_the_tickle_score() -> None:
    # tickle_score: a positive score gets CREDIT_INIT if the pCPU is in new's soft
    # affinity and CREDIT_INIT if it is not in cur's: 2 x CREDIT_INIT at best, none
    # when the pCPU is only in cur's soft affinity.  A lead of exactly 1 is positive.
    host, sched, new, now = _tickle_host(busy0=True)
    cur0, cur1 = _running(host, 0), _running(host, 1)
    new.vcpu.soft_affinity = frozenset({1})
    cur0.vcpu.soft_affinity = frozenset({0})
    cur1.vcpu.soft_affinity = frozenset({0})
    new.credit = 1_000_001
    assert sched._tickle_score(new, 1, now) == 1 + 2 * CSCHED2_CREDIT_INIT
    new.credit = 1_600_000
    assert sched._tickle_score(new, 0, now) == 100_000  # only in cur's: no bonus
    cur1.vcpu.soft_affinity = frozenset({1})
    assert sched._tickle_score(new, 1, now) == 600_000 + CSCHED2_CREDIT_INIT


def _reschedule_with_a_pinned_head(own: int, head: int) -> tuple[int, Csched2Unit]:
    """pCPU 0 runs a (credit *own*); the head of the shared queue (credit *head*) is pinned
    to pCPU 1, so pCPU 0's csched2_schedule keeps a.  Returns the number of credit
    resets that decision made, and a."""
    host = _host(2)
    a = host.create("a", workload="cpu", cpus="0")
    for name in ("b", "c"):
        host.create(name, workload="cpu", cpus="1")
    host.run(ms=5)
    sched = _sched(host)
    rqd = sched.rqds[0]
    sa = a.vcpus[0].sched_priv
    queued = [s for s in rqd.runq if s.vcpu.domain.name in ("b", "c")]
    assert sa.vcpu.is_running and len(queued) == 1
    queued[0].credit = head
    sa.credit, sa.start_time, sa.tickled_cpu = own, host.now, 1
    resets = sched.stats["reset"]
    assert sched.do_schedule(host.hv.pcpus[0], host.now)[0] is sa.vcpu
    return sched.stats["reset"] - resets, sa


@pytest.mark.parametrize("own, head, resets", [
    (-100, 5_000_000, False),  # the queue's head still has credit: no new epoch
    (0, -50, True),            # top credit exactly CSCHED2_CREDIT_RESET (0): reset
])
def test_an_epoch_ends_only_when_the_top_credit_of_the_queue_is_used_up(
        own: int, head: int, resets: bool) -> None:
    # csched2_schedule: top_credit = max(snext->credit, head of the runq's credit);
    # "if ( top_credit <= CSCHED2_CREDIT_RESET )" reset_credit.  The chosen unit's
    # tickled_cpu is cleared (-1) either way.
    n, sa = _reschedule_with_a_pinned_head(own, head)
    assert n == (1 if resets else 0)
    assert sa.tickled_cpu == -1


def test_a_unit_pulled_from_another_pcpu_gets_the_migration_compensation() -> None:
    # csched2_schedule: "if ( sched_unit_master(snext->unit) != sched_cpu )":
    # credit += CSCHED2_MIGRATE_COMPENSATION (50 us) and the unit moves; one picked
    # on its own pCPU gets nothing.
    host = _host(2)
    a = host.create("a", workload="cpu", paused=True)
    sched = _sched(host)
    rqd = sched.rqds[0]
    host.run(ms=1)
    svc = a.vcpus[0].sched_priv
    for cpu, bonus in ((0, 0), (1, 50_000)):
        svc.vcpu.processor = host.hv.pcpus[0]
        svc.vcpu.pause_count = svc.vcpu.domain.pause_count = 0
        rqd.tickled.clear()
        if not svc.on_runq:
            sched._runq_insert(svc)
        svc.credit = 5_000_000
        assert sched.do_schedule(host.hv.pcpus[cpu], host.now)[0] is svc.vcpu
        assert svc.credit == 5_000_000 + bonus and svc.vcpu.processor.cpu_id == cpu
        host.hv.pcpus[cpu].sched_priv.curr = None  # forget that decision


def test_pick_cpu_moves_a_unit_to_the_least_loaded_queue_and_counts_it() -> None:
    # csched2_res_pick: the queue with the least b_avgload; the move (runq_deassign +
    # runq_assign) is counted once per unit.  A queue left empty weighs 1 (max_weight's
    # floor in update_max_weight).
    host, sched, units, now = _two_loaded_queues(2)
    rq0, rq1 = sched.rqds
    p = sched.load_precision_shift
    moves = sched.stats["migrate"]
    for s in units:
        s.vcpu.hard_affinity = frozenset({0, 1})
        rq0.b_avgload, rq1.b_avgload = 5 << p, 0
        assert sched.pick_cpu(s.vcpu).cpu_id == 1 and s.rqd is rq1
    assert sched.stats["migrate"] == moves + 2
    for s in units:
        sched._runq_deassign(s)
    assert rq1.max_weight == 1


def _queued_pair() -> tuple[Host, Credit2Scheduler, Csched2Unit, Csched2Unit]:
    """Two paused guests' units made runnable and queued (x ahead of y) on a 2-pCPU host
    with one run queue; pCPU 0 idle, nothing tickled."""
    host = _host(2)
    x = host.create("x", workload="cpu", paused=True).vcpus[0].sched_priv
    y = host.create("y", workload="cpu", paused=True).vcpus[0].sched_priv
    sched = _sched(host)
    rqd = sched.rqds[0]
    for q in list(rqd.runq):
        sched._runq_remove(q)
    for s, credit in ((x, 5_000_000), (y, 4_000_000)):
        s.vcpu.pause_count = s.vcpu.domain.pause_count = 0
        s.vcpu.processor = host.hv.pcpus[0]
        s.credit = credit
        sched._runq_insert(s)
    rqd.tickled.clear()
    return host, sched, x, y


def test_runq_candidate_passes_over_a_unit_left_for_the_pcpu_tickled_for_it() -> None:
    # runq_candidate: a unit tickled for another pCPU that has not rescheduled yet is
    # skipped (continue), and the scan goes on to the next.
    host, sched, x, y = _queued_pair()
    rqd = sched.rqds[0]
    x.tickled_cpu = 1
    rqd.tickled.add(1)
    assert sched._runq_candidate(rqd, host.hv.pcpus[0].idle, 0, host.now) is y
    rqd.tickled.discard(1)  # pCPU 1 has rescheduled: x is anyone's
    assert sched._runq_candidate(rqd, host.hv.pcpus[0].idle, 0, host.now) is x


def test_runq_candidate_passes_over_a_unit_resisting_migration_and_takes_the_next() -> None:
    # runq_candidate: a unit from another pCPU that does not beat snext by
    # CSCHED2_MIGRATE_RESIST is skipped (continue); one on this pCPU is taken.
    host, sched, x, y = _queued_pair()
    rqd = sched.rqds[0]
    x.vcpu.processor = host.hv.pcpus[1]
    idle = host.hv.pcpus[0].idle
    x.credit, y.credit = -CSCHED2_CREDIT_INIT + 400_000, -CSCHED2_CREDIT_INIT + 300_000
    assert sched._runq_candidate(rqd, idle, 0, host.now) is y


def test_the_slice_ends_where_the_credit_meets_the_next_in_line_to_the_nanosecond() -> None:
    # csched2_runtime: rt_credit = snext->credit - head->credit when the head has credit
    # (> 0); for a unit already running, the rate limit counts from when it started.
    host, sched, x, y = _queued_pair()
    rqd = sched.rqds[0]
    sched._runq_remove(x)
    x.credit, y.credit = 3_000_000, 1
    assert sched._runtime(rqd, x, host.now) == 2_999_999
    x.vcpu.is_running = True
    x.vcpu.state_entry_time = host.now - 200_000  # 0.2 ms into its 1 ms rate limit
    y.credit = 2_900_000  # a gap of 0.1 ms: the rest of the rate limit, 0.8 ms
    assert sched._runtime(rqd, x, host.now) == 800_000
    x.vcpu.is_running = False


def test_a_waking_units_own_load_average_decays_for_the_time_it_was_not_runnable() -> None:
    # update_svc_load(change = +1): the unit was not runnable until now (load 0): half a
    # window later its average has halved.
    host = _host(1)
    d = host.create("d", workload="cpu", paused=True)
    host.run(ms=600)
    sched = _sched(host)
    svc = d.vcpus[0].sched_priv
    p, w = sched.load_precision_shift, sched.load_window_shift
    svc.avgload = 1 << p
    svc.load_last_update = (host.now >> LOADAVG_GRANULARITY_SHIFT) - (1 << (w - 1))
    host.xl("unpause d")
    assert svc.avgload == 1 << (p - 1)


def test_runq_tickle_prefers_an_idle_pcpu_to_preempting_a_busy_one() -> None:
    # runq_tickle: an idle, untickled pCPU (here pCPU 0, not the unit's own) is tickled
    # and no busy pCPU is scored.
    host, sched, new, now = _tickle_host(busy0=False)
    assert 0 in sched.rqds[0].idle
    new.credit = 5_000_000  # would preempt pCPU 1's hog too
    sched._tickle(new, now)
    assert sched.rqds[0].tickled == {0} and new.tickled_cpu == 0


def test_runq_tickle_needs_a_positive_score_to_preempt() -> None:
    # runq_tickle: "if ( score > max )" with max starting at 0: equal credits (score 0)
    # preempt nothing; a lead of exactly 1 with no soft-affinity bonus (pCPU 1 outside
    # new's soft affinity, inside cur's) does.
    host, sched, new, now = _tickle_host(busy0=True)
    rqd = sched.rqds[0]
    new.credit = 1_000_000
    sched._tickle(new, now)
    assert rqd.tickled == set()
    new.vcpu.soft_affinity = frozenset({0})
    _running(host, 1).vcpu.soft_affinity = frozenset({1})
    new.credit = 1_000_001
    assert sched._tickle_score(new, 1, now) == 1
    sched._tickle(new, now)
    assert rqd.tickled == {1}


def test_runq_tickle_takes_its_own_pcpu_at_once_when_it_is_in_its_soft_affinity() -> None:
    # runq_tickle scores the unit's own pCPU first and, if that is in new's soft affinity,
    # tickles it without looking at the others, even if another would score higher.
    host, sched, new, now = _tickle_host(busy0=True)
    rqd = sched.rqds[0]
    new.vcpu.soft_affinity = frozenset({0, 1})
    _running(host, 0).credit = 0  # pCPU 0 would score 1 ms higher
    new.credit = 2_000_000
    assert sched._tickle_score(new, 0, now) > sched._tickle_score(new, 1, now) > 0
    sched._tickle(new, now)
    assert rqd.tickled == {1}


def test_waking_a_running_or_queued_unit_changes_nothing() -> None:
    # csched2_unit_wake: "if ( unlikely(curr_on_cpu(cpu) == unit) ) goto out" and
    # "if ( unlikely(unit_on_runq(svc)) ) goto out".
    host = _host(1)
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    host.run(ms=5)
    sched = _sched(host)
    rqd = sched.rqds[0]
    cur = _running(host, 0)
    queued = rqd.runq[0]
    load, runq = rqd.load, list(rqd.runq)
    sched.wake(cur.vcpu)
    sched.wake(queued.vcpu)
    assert rqd.load == load and rqd.runq == runq and not cur.on_runq
