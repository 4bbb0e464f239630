"""credit.c details that shares alone do not show: accounting lists, pools, traces, dump."""

from __future__ import annotations

import pytest

from tests.conftest import shares
from tests.hypervisor.sched.helpers import (
    assert_trace_well_formed,
    credit_of,
    new_credit_pool,
    sampler,
)
from xensim.host import Host
from xensim.hypervisor.sched.credit import (
    FLAG_PARKED,
    PRI_TS_OVER,
    PRI_TS_UNDER,
    CreditScheduler,
)
from xensim.hypervisor.sched.credit_runq import CreditRunq


def test_trace_has_boost_tickle_steal_and_accounting_events() -> None:
    host = Host(pcpus=2, seed=1, dom0_vcpus=1, trace=True)
    for i in range(3):
        host.create(f"hog{i}", workload="cpu")
    host.create("io", workload="duty:busy_ms=0.3,idle_ms=4")
    host.create("capped", workload="cpu", cap=10)
    host.run(ms=400)
    recs = host.hv.trace.records
    kinds = {r.event for r in recs}
    # csched_unit_acct ends a boost at the tick that finds the booster still running
    assert {"boost_start", "boost_end", "tickle", "credit_acct", "park", "unpark",
            "steal", "switch", "wake", "block"} <= kinds
    assert_trace_well_formed(host)
    ends = [r for r in recs if r.event == "boost_end"]
    assert {(r.domid, r.vcpu) for r in ends} <= {(d.domid, v.vcpu_id)
                                                for d in host.hv.domains.values()
                                                for v in d.vcpus}
    boosts = [r for r in recs if r.event == "boost_start"]
    assert {(r.domid, r.vcpu) for r in boosts} >= {(4, 0)}  # io is domain 4
    parks = [r for r in recs if r.event == "park"]
    assert {r.domid for r in parks} == {5} and all(r.data[0] < 0 for r in parks)
    acct = [r for r in recs if r.event == "credit_acct"]
    # every 30 ms from boot, on the master pCPU (0)
    assert [r.t for r in acct[:3]] == [30_000_000, 60_000_000, 90_000_000]
    assert {r.cpu for r in acct} == {0}
    steals = [r for r in recs if r.event == "steal"]
    assert all(r.cpu != r.data[0] for r in steals)  # from another pCPU


def test_a_pool_that_loses_its_master_pcpu_keeps_accounting() -> None:
    host = Host(pcpus=4, seed=1, dom0_vcpus=1)
    sched = new_credit_pool(host, "2-3")
    assert sched.master is host.hv.pcpus[2] and sched.credit == 2 * 300
    host.toolstack.cpupool_cpu_remove(host.hv.pools[1], 2)
    assert sched.master is host.hv.pcpus[3] and sched.credit == 300
    d = host.create("d", workload="cpu", pool="p", cpu_weight=512)
    e = host.create("e", workload="cpu", pool="p")
    host.run(ms=3_000)
    # one pCPU, weights 512:256: the accounting still runs, 2/3 vs 1/3 (3% over 3 s)
    s = shares(host)
    assert s["d"] == pytest.approx(2 / 3, abs=0.03) and s["e"] == pytest.approx(1 / 3, abs=0.03)
    assert {v.processor.cpu_id for v in (*d.vcpus, *e.vcpus)} == {3}


def test_destroying_an_active_domain_takes_its_weight_out_of_the_accounting() -> None:
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    host.create("a", workload="cpu", cpu_weight=512)
    host.create("b", workload="cpu", cpu_weight=256)
    host.run(ms=100)
    sched = credit_of(host)
    assert sched.weight == 768 and len(sched.active_sdom) == 2
    host.xl("destroy a")
    assert sched.weight == 256 and [s.dom.name for s in sched.active_sdom] == ["b"]
    host.run(ms=100)
    assert shares(host)["b"] > 0.5


def test_changing_an_active_domains_weight_changes_the_total_at_once() -> None:
    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    d = host.create("d", workload="cpu", vcpus=2)
    host.run(ms=100)
    sched = credit_of(host)
    assert sched.weight == 2 * 256
    host.toolstack.sched_params(d, {"weight": 1000})
    assert sched.weight == 2 * 1000
    assert host.toolstack.sched_params(d) == {"weight": 1000, "cap": 0}


def _steals(delay_us: int, ms: int) -> int:
    """Steals on a busy 2-pCPU host with vcpu_migration_delay = *delay_us*."""
    host = Host(pcpus=2, seed=2, dom0_vcpus=1)
    host.toolstack.sched_global(host.hv.pools[0], {"migration_delay_us": delay_us})
    for i in range(3):
        host.create(f"hog{i}", workload="cpu")
    host.create("io", workload="duty:busy_ms=0.5,idle_ms=2")
    host.run(ms=ms)
    return credit_of(host).stats["steal"]


def test_migration_delay_keeps_a_recently_run_vcpu_from_being_stolen() -> None:
    assert _steals(0, 1_000) > 2 * _steals(100_000, 1_000)  # 100 ms: few are cold enough


def test_runq_sort_puts_under_vcpus_ahead_of_over_ones_once_per_accounting() -> None:
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    for i in range(3):
        host.create(f"d{i}", workload="cpu", paused=True)
    sched = credit_of(host)
    pcpu = host.hv.pcpus[0]
    spc = pcpu.sched_priv
    units = [host.domain(f"d{i}").vcpus[0].sched_priv for i in range(3)]
    spc.runq = CreditRunq()
    for u in units:
        u.pri = PRI_TS_UNDER
        spc.runq.insert(u, False)
    # The accounting pass changes queued priorities in place, as csched_acct does.
    for u in (units[0], units[2]):
        u.pri = PRI_TS_OVER
        spc.runq.repriced(u, PRI_TS_UNDER)
    sched._runq_sort(pcpu)  # nothing new since the last accounting: unchanged
    assert spc.runq.vcpus == units
    sched.runq_sort += 1
    sched._runq_sort(pcpu)
    assert spc.runq.vcpus == [units[1], units[0], units[2]]  # stable within each class
    assert spc.runq_sort_last == sched.runq_sort


def test_dump_shows_the_globals_idlers_and_each_queue() -> None:
    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    host.create("a", workload="cpu", cpu_weight=300, cap=50)
    host.toolstack.sched_global(host.hv.pools[0], {"migration_delay_us": 1500})
    host.run(ms=35)
    text = credit_of(host).dump()
    lines = text.splitlines()
    assert text.endswith("\n") and "XX" not in text  # one newline-terminated line each
    assert lines[0] == "Scheduler: SMP Credit Scheduler (credit)" and lines[1] == "info:"
    assert "\tncpus              = 2" in lines and "\tmaster             = 0" in lines
    assert "\tcredit             = 600" in lines and "\tweight             = 300" in lines
    assert "\tratelimit          = 1000us" in lines and "\tticks per tslice   = 3" in lines
    assert "\tmigration delay    = 1500us" in lines and "\tdefault-weight     = 256" in lines
    assert "\trunq_sort          = 1" in lines and "\tcredits per msec   = 10" in lines
    assert any(ln.startswith("idlers: ") for ln in lines)
    run = [ln for ln in lines if ln.startswith("\trun: [1.0]")]
    assert len(run) == 1 and "[w=300,cap=50]" in run[0] and "pri=" in run[0]
    assert any(ln.startswith("CPU[00] nr_run=") for ln in lines)


def test_global_parameters_read_back_keep_what_is_not_set_and_bounds_are_inclusive() -> None:
    host = Host(pcpus=1)
    pool = host.hv.pools[0]
    sg = host.toolstack.sched_global
    assert repr(sg(pool)) == "{'tslice_ms': 30, 'ratelimit_us': 1000, 'migration_delay_us': 0}"
    sg(pool, {"ratelimit_us": 500, "migration_delay_us": 100_000})
    sg(pool, {"tslice_ms": 20})  # the others stay
    assert repr(sg(pool)) == \
        "{'tslice_ms': 20, 'ratelimit_us': 500, 'migration_delay_us': 100000}"
    sg(pool, {"tslice_ms": 1000, "ratelimit_us": 500_000})  # both upper bounds
    sg(pool, {"tslice_ms": 1, "ratelimit_us": 1000})  # ratelimit == tslice is allowed
    sg(pool, {"ratelimit_us": 100})
    assert sg(pool)["ratelimit_us"] == 100
    from xensim.toolstack.libxl import LibxlError
    with pytest.raises(LibxlError, match="migration_delay_us must be in 0..100000"):
        sg(pool, {"migration_delay_us": 100_001})
    with pytest.raises(LibxlError, match="known: tslice_ms, ratelimit_us, migration_delay_us"):
        sg(pool, {"quantum": 1})


def test_steal_takes_only_strictly_better_work_and_passes_over_yielders() -> None:
    from xensim.hypervisor.sched.credit import FLAG_YIELD, PRI_TS_UNDER

    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    doms = [host.create(f"d{i}", workload="cpu", cpus="1") for i in range(3)]
    host.run(ms=5)
    sched = credit_of(host)
    peer = host.hv.pcpus[1]
    queued = [s for s in peer.sched_priv.runq.vcpus]
    assert len(queued) == 2 and not any(d.vcpus[0].sched_priv in queued and
                                         d.vcpus[0].is_running for d in doms)
    for svc in queued:
        svc.pri = PRI_TS_UNDER
        svc.hard = frozenset({0, 1})
    assert sched._runq_steal(peer, 0, PRI_TS_UNDER, 1) is None  # equal is not better
    queued[0].flags |= FLAG_YIELD
    got = sched._runq_steal(peer, 0, PRI_TS_OVER, 1)
    assert got is queued[1]  # the yielder is passed over, not the end of the search
    assert got.vcpu.processor is host.hv.pcpus[0] and not got.on_runq


def test_a_tiny_migration_delay_still_lets_cold_vcpus_be_stolen() -> None:
    assert _steals(1, 500) > 0.5 * _steals(0, 500) > 0  # 1 us: all queued are cold by then


def test_destroying_parked_and_soft_affine_domains_undoes_their_state() -> None:
    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    capped = host.create("capped", workload="cpu", cap=5)
    host.create("soft", workload="cpu", cpus_soft="1")
    host.create("hog", workload="cpu", cpus="0")
    sched = credit_of(host)
    assert sched.nr_soft_affine == 1
    host.run(ms=100)
    v = capped.vcpus[0]
    while not v.sched_priv.flags & 1:  # FLAG_PARKED
        host.run(ms=10)
    assert v.pause_count == 1
    sched.remove(v)
    assert v.pause_count == 0 and not v.sched_priv.flags & 1 and not v.sched_priv.active
    host.xl("destroy soft")
    assert sched.nr_soft_affine == 0
    host.xl("destroy hog")
    assert sched.nr_soft_affine == 0  # only a soft-affine unit was counted
    assert all(not s.vcpu.domain.name == "hog" for p in host.hv.pcpus
               for s in p.sched_priv.runq.vcpus)


def test_removing_a_pcpu_gives_back_its_credit_and_hands_over_the_master() -> None:
    host = Host(pcpus=5, seed=1, dom0_vcpus=1, trace=True)
    sched = new_credit_pool(host, "2-4")
    assert sched.credit == 900 and sched.master is host.hv.pcpus[2]
    host.run(ms=45)
    host.toolstack.cpupool_cpu_remove(host.hv.pools[1], 2)
    assert sched.credit == 600 and 2 not in sched.idlers
    assert sched.master is host.hv.pcpus[3] and host.hv.pcpus[2].sched_priv is None
    host.create("d", workload="cpu", pool="p")
    host.run(ms=61)
    acct = [r.t for r in host.hv.trace.records if r.event == "credit_acct" and r.cpu == 3]
    # migrate_timer keeps the master ticker's expiry: the beat of 30 ms from the start
    assert acct[:2] == [60_000_000, 90_000_000]
    host.toolstack.cpupool_cpu_remove(host.hv.pools[1], 4)
    assert sched.credit == 300


def test_runnable_counts_follow_the_run_queues_through_wakes_blocks_and_steals() -> None:
    # csched_pcpu.nr_runnable counts the queued units plus the running one (inc/dec_nr_
    # runnable); csched_load_balance skips peers with at most one.  Sampled every 0.25 ms.
    host = Host(pcpus=3, seed=1, dom0_vcpus=1, trace=True)
    for i in range(4):
        host.create(f"hog{i}", workload="cpu")
    host.create("io", workload="duty:busy_ms=0.3,idle_ms=1")
    sched = credit_of(host)

    def check() -> str | None:
        for p in host.hv.pcpus:
            spc = p.sched_priv
            if not len(spc.runq.vcpus) <= spc.nr_runnable <= len(spc.runq.vcpus) + 1:
                return f"cpu{p.cpu_id}: nr_run={spc.nr_runnable} runq={len(spc.runq.vcpus)}"
        return None

    problems = sampler(host, 250_000, check)
    host.run(ms=300)
    assert problems == []
    steals = [r for r in host.hv.trace.records if r.event == "steal"]
    assert steals and sched.stats["steal"] == len(steals)  # one count per stolen unit


def test_an_idle_pcpu_steals_a_soft_affine_unit_before_a_merely_allowed_one() -> None:
    # csched_load_balance's balance steps: a first pass over soft affinity, then hard.
    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    for i in range(3):
        host.create(f"d{i}", workload="cpu", cpus="1")
    host.run(ms=5)
    sched = credit_of(host)
    pcpu0 = host.hv.pcpus[0]
    queued = list(host.hv.pcpus[1].sched_priv.runq.vcpus)
    assert len(queued) == 2
    for svc in queued:
        svc.hard = frozenset({0, 1})
    queued[0].soft, queued[1].soft = frozenset({1}), frozenset({0})
    sched.nr_soft_affine = 2
    assert sched._runq_steal(host.hv.pcpus[1], 0, PRI_TS_OVER - 1, 0) is queued[1]
    queued[1].vcpu.processor = host.hv.pcpus[1]
    sched._runq_insert(queued[1])  # back behind queued[0], its equal
    assert list(host.hv.pcpus[1].sched_priv.runq.vcpus) == queued
    got = sched._load_balance(pcpu0, pcpu0.idle.sched_priv)
    assert got is queued[1]  # second in the queue, but the only one preferring pCPU 0


def test_load_balance_passes_over_a_peer_with_nothing_queued_to_the_next() -> None:
    # csched_load_balance: a peer with nr_runnable <= 1 is skipped, not the end of the walk.
    host = Host(pcpus=3, seed=1, dom0_vcpus=1)
    host.create("alone", workload="cpu", cpus="1")
    for i in range(3):
        host.create(f"d{i}", workload="cpu", cpus="2")
    host.run(ms=5)
    sched = credit_of(host)
    assert host.hv.pcpus[1].sched_priv.nr_runnable == 1
    queued = list(host.hv.pcpus[2].sched_priv.runq.vcpus)
    for svc in queued:
        svc.hard = frozenset({0, 1, 2})
    pcpu0 = host.hv.pcpus[0]
    got = sched._load_balance(pcpu0, pcpu0.idle.sched_priv)
    assert got in queued and got.vcpu.processor is pcpu0


def test_burn_credits_keeps_the_sub_credit_remainder_as_xen_does() -> None:
    # credit.c burn_credits: val = delta * CREDITS_PER_MSEC + residual; the remainder of
    # val / MILLISECS(1) is kept in residual, whole credits are burnt, and start_time only
    # advances by the time those whole credits stand for (10 credits per ms).
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    d = host.create("d", workload="cpu", paused=True)
    sched = credit_of(host)
    svc = d.vcpus[0].sched_priv
    svc.credit, svc.residual, svc.start_time = 300, 0, 1_000_000
    sched._burn_credits(svc, 2_050_000)  # 1.05 ms: 10 credits and half a credit over
    assert (svc.credit, svc.residual, svc.start_time) == (290, 500_000, 2_000_000)
    sched._burn_credits(svc, 2_000_000)  # no time since start_time: nothing burnt
    assert (svc.credit, svc.residual, svc.start_time) == (290, 500_000, 2_000_000)
    sched._burn_credits(svc, 2_050_000)  # 0.05 ms more plus the residual: one credit
    assert (svc.credit, svc.residual, svc.start_time) == (289, 0, 2_100_000)


def test_dump_lists_every_idler_and_numbers_the_queue_from_one() -> None:
    # csched_dump: "idlers: " is the idle cpumask as a list; csched_dump_pcpu numbers
    # the queued units from 1 (after the "run:" line of the running one).
    host = Host(pcpus=3, seed=1, dom0_vcpus=1)
    host.run(ms=1)
    assert "idlers: 0,1,2" in credit_of(host).dump().splitlines()
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    host.run(ms=5)
    lines = credit_of(host).dump().splitlines()
    assert lines[-2].startswith("\trun: [") and lines[-1].startswith("\t  1: [")


def _acct_setup(cap: int, balance: int, a_first: bool) -> tuple[CreditScheduler, list, list]:
    """One pCPU (300 credits a tslice); domain a (2 units, weight 256, *cap*) and b (1
    unit, weight 256) active with 0 credit; weight_total 768."""
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    a = host.create("a", workload="cpu", vcpus=2, cap=cap, paused=True)
    b = host.create("b", workload="cpu", paused=True)
    sched = credit_of(host)
    for sdom in list(sched.active_sdom):
        for svc in list(sdom.active_units):
            sched._acct_stop(svc)
    units_a = [v.sched_priv for v in a.vcpus]
    units_b = [v.sched_priv for v in b.vcpus]
    for svc in (*units_b, *units_a) if a_first else (*units_a, *units_b):
        svc.credit = 0
        sched._acct_start(svc)  # csched_unit_acct -> active_unit_start: at the list head
    assert sched.weight == 768
    sched.credit_balance = balance
    return sched, units_a, units_b


def test_accounting_hands_out_credit_by_weight_rounding_up() -> None:
    # csched_acct: credit_fair = ceil(credit_total * weight * n_active / weight_total),
    # then shared by the domain's active units rounding up: a 2/3 and b 1/3 of 300.
    sched, ua, ub = _acct_setup(cap=0, balance=0, a_first=True)
    acct = sched.stats["acct"]
    sched._acct()
    assert [s.credit for s in ua] == [100, 100] and [s.credit for s in ub] == [100]
    assert sched.credit_balance == 300 and sched.stats["acct"] == acct + 1


def test_a_negative_balance_is_added_to_the_credit_handed_out() -> None:
    # csched_acct: a negative credit_balance (credit burnt beyond what was handed out)
    # is added to credit_total, and each domain's peak grows by its weighted share of it.
    sched, ua, ub = _acct_setup(cap=0, balance=-30, a_first=True)
    sched._acct()
    # credit_total 330: a gets ceil(330 * 512 / 768) = 220, 110 per unit; b ceil(110)
    assert [s.credit for s in ua] == [110, 110] and [s.credit for s in ub] == [110]
    assert sched.credit_balance == 330


def test_a_capped_domains_surplus_goes_to_the_domains_after_it() -> None:
    # csched_acct with a cap: credit_cap = ceil(cap * credits_per_tslice / 100) (30 for
    # 10%) bounds the domain's peak; its fair share above the peak (200 - 30) goes back
    # into credit_total, scaled by weight_total / weight_left (ceil), for b to take;
    # the cap per unit is ceil(30 / 2) = 15.
    sched, ua, ub = _acct_setup(cap=10, balance=0, a_first=True)
    sched._acct()
    assert [s.credit for s in ua] == [15, 15]
    assert [s.credit for s in ub] == [270]  # ceil(810 * 256 / 768), below b's peak 300
    # b came first and took less than its peak (credit_xtra): a, over its peak, is
    # moved to the head of the active list so that it is seen first next time.
    sched, ua, ub = _acct_setup(cap=10, balance=0, a_first=False)
    sched._acct()
    assert sched.active_sdom[0] is ua[0].sdom
    assert [s.credit for s in ub] == [100] and [s.credit for s in ua] == [15, 15]


def test_a_vcpu_inside_its_ratelimit_keeps_the_pcpu_for_the_rest_of_it() -> None:
    # csched_schedule: prev, runnable and run for less than ratelimit (1 ms), goes on
    # for ratelimit - runtime; once past it, the next in the queue gets the pCPU.
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    host.run(ns=30_100_000)  # the first 30 ms slice has just ended (a switch at ~30.06 ms)
    sched, pcpu = credit_of(host), host.hv.pcpus[0]
    prev = pcpu.curr
    assert not prev.is_idle and host.now - prev.state_entry_time < 300_000
    host.run(ns=prev.state_entry_time + 300_000 - host.now)
    assert sched.do_schedule(pcpu, host.now) == (prev, 700_000)
    host.run(ms=2)
    nxt, _ = sched.do_schedule(pcpu, host.now)
    assert nxt is not prev and not nxt.is_idle


def test_load_balance_starts_after_the_peer_it_last_stole_from() -> None:
    # csched_load_balance: the walk over a node's busy pCPUs starts after balance_bias,
    # the last peer stolen from, so that steals rotate among equally loaded peers.
    host = Host(pcpus=4, seed=1, dom0_vcpus=1)
    for cpu in (1, 2, 3):
        for i in range(3):
            host.create(f"d{cpu}{i}", workload="cpu", cpus=str(cpu))
    host.run(ms=5)
    sched = credit_of(host)
    for cpu in (1, 2, 3):
        for svc in host.hv.pcpus[cpu].sched_priv.runq.vcpus:
            svc.hard = frozenset({0, 1, 2, 3})
    pcpu0 = host.hv.pcpus[0]
    sched.balance_bias[0] = 1
    first = sched._load_balance(pcpu0, pcpu0.idle.sched_priv)
    assert first.vcpu.domain.name.startswith("d2") and sched.balance_bias[0] == 2
    second = sched._load_balance(pcpu0, pcpu0.idle.sched_priv)
    assert second.vcpu.domain.name.startswith("d3")


def test_accounting_floors_debt_at_one_slice_and_unparks_a_unit_back_in_credit() -> None:
    # csched_acct: a unit's credit never goes below -credits_per_tslice (-300 here); a
    # parked unit whose credit is positive again is unparked (vcpu_unpause) and loses
    # only the PARKED flag.
    sched, ua, ub = _acct_setup(cap=0, balance=0, a_first=True)
    ua[0].credit = -1_000
    ub[0].credit = -50
    others = ub[0].flags
    ub[0].flags |= FLAG_PARKED
    sched.core.vcpu_pause(ub[0].vcpu)
    unparks = sched.stats["unpark"]
    sched._acct()
    assert ua[0].credit == -300 and ua[0].pri == PRI_TS_OVER  # -1000 + 100, floored
    assert ub[0].credit == 50 and ub[0].flags == others and ub[0].vcpu.pause_count == 0
    assert sched.stats["unpark"] == unparks + 1


def test_a_pcpu_leaving_idle_ticks_on_the_tick_grid() -> None:
    # csched_schedule: when an idle pCPU picks a vCPU its ticker is set to the next
    # multiple of the tick period (10 ms), not a whole period from now.
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    d = host.create("d", workload="cpu", paused=True)
    host.run(ns=3_700_000)
    host.hv.core.domain_unpause(d)
    host.run(ns=1)
    assert d.vcpus[0].is_running
    assert host.hv.pcpus[0].sched_priv.ticker.expires == 10_000_000
