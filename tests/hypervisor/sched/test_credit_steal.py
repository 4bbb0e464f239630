"""csched_runq_steal, csched_load_balance, _csched_cpu_pick and __runq_tickle choices,
each asked directly in a state set up by hand, and checked against Xen 4.19's credit.c."""

from __future__ import annotations

from tests.hypervisor.sched.helpers import credit_of
from xensim.host import Host
from xensim.hypervisor.sched.credit import (
    FLAG_MIGRATING,
    FLAG_PINNED,
    FLAG_YIELD,
    PRI_IDLE,
    PRI_TS_BOOST,
    PRI_TS_OVER,
    PRI_TS_UNDER,
    CreditScheduler,
    CschedUnit,
)
from xensim.hypervisor.vcpu import VCPU, PauseFlag


def _queued_on_1(n: int) -> tuple[Host, CreditScheduler, list[CschedUnit]]:
    """Two pCPUs; *n* + 1 hogs pinned to pCPU 1: one runs there, *n* wait in its queue
    (returned in queue order, each made movable to pCPU 0); pCPU 0 is idle."""
    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    for i in range(n + 1):
        host.create(f"h{i}", workload="cpu", cpus="1")
    host.run(ms=1)
    sched = credit_of(host)
    queued = list(host.hv.pcpus[1].sched_priv.runq.vcpus)
    assert len(queued) == n and not host.hv.pcpus[1].curr.is_idle
    for svc in queued:
        svc.hard = frozenset({0, 1})
    return host, sched, queued


def _requeue(sched: CreditScheduler, svc: CschedUnit, pri: int) -> None:
    """Give a queued unit another priority the way the queue is told of it."""
    sched._runq_remove(svc)
    svc.pri = pri
    sched._runq_insert(svc)


def test_steal_stops_at_the_first_queued_unit_no_better_than_the_stealers() -> None:
    # csched_runq_steal: "if ( speer->pri <= pri ) break;" -- an OVER unit behind a
    # UNDER one that may not move is not taken by a pCPU whose own next is OVER, but is
    # by an idle one.
    host, sched, (x, y) = _queued_on_1(2)
    x.hard = frozenset({1})
    _requeue(sched, y, PRI_TS_OVER)
    peer = host.hv.pcpus[1]
    assert peer.sched_priv.runq.vcpus == [x, y] and x.pri == PRI_TS_UNDER
    assert sched._runq_steal(peer, 0, PRI_TS_OVER, 1) is None
    assert sched._runq_steal(peer, 0, PRI_IDLE, 1) is y
    assert y.vcpu.processor is host.hv.pcpus[0] and not y.on_runq


def test_steal_passes_over_a_yielding_unit_and_takes_the_next() -> None:
    # "Don't steal a UNIT which has yielded": continue with the next one.
    host, sched, (x, y) = _queued_on_1(2)
    x.flags |= FLAG_YIELD
    assert sched._runq_steal(host.hv.pcpus[1], 0, PRI_IDLE, 1) is y


def test_the_soft_step_passes_over_a_unit_without_soft_affinity() -> None:
    # Balance step 0 (soft affinity): a queued unit with no useful soft affinity is
    # skipped ("continue"), and the next one, whose soft affinity holds the stealer, taken.
    host, sched, (x, y) = _queued_on_1(2)
    y.soft = frozenset({0})
    assert x.soft is None
    assert sched._runq_steal(host.hv.pcpus[1], 0, PRI_IDLE, 0) is y


def test_a_unit_is_cache_hot_for_less_than_the_migration_delay_not_at_it() -> None:
    # __csched_unit_is_cache_hot: hot while now - last_sched_time < vcpu_migration_delay.
    host, sched, (x,) = _queued_on_1(1)
    sched.unit_migr_delay = 1_000_000
    peer = host.hv.pcpus[1]
    x.last_sched_time = host.now - 1_000_000 + 1
    assert sched._runq_steal(peer, 0, PRI_IDLE, 1) is None
    x.last_sched_time = host.now - 1_000_000
    assert sched._runq_steal(peer, 0, PRI_IDLE, 1) is x


def test_nothing_is_stolen_from_a_peer_with_an_empty_queue_or_an_idle_peer() -> None:
    # A busy peer with nothing queued has nothing to give; an idle peer's queue is left
    # alone ("it's about to run it", csched_runq_steal).
    host, sched, _ = _queued_on_1(0)
    assert sched._runq_steal(host.hv.pcpus[1], 0, PRI_IDLE, 1) is None
    d = host.create("w", workload="cpu", paused=True)
    svc: CschedUnit = d.vcpus[0].sched_priv
    svc.vcpu.processor = host.hv.pcpus[0]
    sched._runq_insert(svc)
    assert host.hv.pcpus[0].curr.is_idle and svc in host.hv.pcpus[0].sched_priv.runq.vcpus
    assert sched._runq_steal(host.hv.pcpus[0], 1, PRI_IDLE, 1) is None


def test_load_balance_looks_on_other_nodes_from_where_it_stole_last_there() -> None:
    # Two sockets (two NUMA nodes) of two cores.  pCPU 0 runs h0 with an OVER unit o
    # queued; pCPU 1 is idle, so its own node has no busy peer; pCPUs 2 and 3 each run a
    # hog with another queued.  csched_load_balance goes on to node 1 and starts after
    # balance_bias[1] (2): it steals from pCPU 3, counts the stolen unit as runnable
    # on pCPU 0 (nr_runnable 2 -> 3) and remembers pCPU 3 for node 1.
    host = Host(pcpus=4, topology="2x2x1", seed=1, dom0_vcpus=1)
    host.create("h0", workload="cpu", cpus="0")
    o = host.create("o", workload="cpu", cpus="0")
    for cpu in (2, 3):
        for i in range(2):
            host.create(f"d{cpu}{i}", workload="cpu", cpus=str(cpu))
    host.run(ms=1)
    sched = credit_of(host)
    pcpu0 = host.hv.pcpus[0]
    assert sched.idlers == {1}
    snext: CschedUnit = o.vcpus[0].sched_priv
    _requeue(sched, snext, PRI_TS_OVER)
    assert pcpu0.sched_priv.runq.vcpus == [snext] and pcpu0.sched_priv.nr_runnable == 2
    for cpu in (2, 3):
        for svc in host.hv.pcpus[cpu].sched_priv.runq.vcpus:
            svc.hard = frozenset(range(4))
    sched.balance_bias[1] = 2
    stolen = sched._load_balance(pcpu0, snext)
    assert stolen.vcpu.domain.name.startswith("d3") and stolen.vcpu.processor is pcpu0
    assert sched.balance_bias[1] == 3 and pcpu0.sched_priv.nr_runnable == 3


def _smt_host(power_savings: int) -> tuple[Host, CreditScheduler, VCPU]:
    """One socket of two cores of two threads ({0, 1}, {2, 3}); a paused guest's vCPU."""
    host = Host(pcpus=4, topology="1x2x2", seed=1, dom0_vcpus=1,
                xen_cmdline=f"sched_smt_power_savings={power_savings}")
    v = host.create("v", workload="cpu", paused=True).vcpus[0]
    return host, credit_of(host), v


def test_smt_power_savings_keeps_a_unit_on_a_half_busy_core() -> None:
    # _csched_cpu_pick with sched_smt_power_savings: move only if this core has more
    # idle threads than the other ("weight_cpu > weight_nxt").  Thread 0 runs a hog; a
    # unit on idle thread 1 stays there (1 idler here, 2 on the other core) ...
    host, sched, v = _smt_host(1)
    host.create("hog", workload="cpu", cpus="0")
    host.run(ms=1)
    v.processor = host.hv.pcpus[1]
    assert sched._cpu_pick(v).cpu_id == 1
    # ... and with the whole host idle, a unit on thread 0 stays too (2 idlers each).
    host, sched, v = _smt_host(1)
    host.run(ms=1)
    v.processor = host.hv.pcpus[0]
    assert sched._cpu_pick(v).cpu_id == 0


def test_without_smt_power_savings_a_unit_moves_to_the_idler_core() -> None:
    # The default ("weight_cpu * migrate_factor < weight_nxt"): from idle thread 1 of
    # a half-busy core to the fully idle core.
    host, sched, v = _smt_host(0)
    host.create("hog", workload="cpu", cpus="0")
    host.run(ms=1)
    v.processor = host.hv.pcpus[1]
    assert sched._cpu_pick(v).cpu_id in {2, 3}


def test_tickle_takes_an_idler_of_the_soft_affinity_without_looking_further() -> None:
    # __runq_tickle: the soft step found an idle pCPU (1), so that one is tickled; the
    # hard step, which would cycle on from last_tickle_cpu (1) to pCPU 2, is not reached.
    host = Host(pcpus=3, seed=1, dom0_vcpus=1)
    host.create("hog", workload="cpu", cpus="0")
    w = host.create("w", workload="cpu", cpus_soft="1", paused=True)
    host.run(ms=1)
    sched = credit_of(host)
    pcpu0 = host.hv.pcpus[0]
    svc: CschedUnit = w.vcpus[0].sched_priv
    assert svc.soft == frozenset({1}) and sched.idlers == {1, 2}
    svc.vcpu.processor = pcpu0
    pcpu0.sched_priv.last_tickle_cpu = 1
    sched._runq_tickle(svc)
    assert sched.idlers == {2} and pcpu0.sched_priv.last_tickle_cpu == 1


def test_a_pinned_unit_that_yields_stays_pinned() -> None:
    # csched_unit_yield sets the YIELD bit only: the PINNED bit (one pCPU in the hard
    # affinity), which __runq_tickle reads, stays.
    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    v = host.create("p", workload="cpu", cpus="1", paused=True).vcpus[0]
    sched = credit_of(host)
    assert v.sched_priv.flags & FLAG_PINNED
    sched.yield_(v)
    assert v.sched_priv.flags & (FLAG_PINNED | FLAG_YIELD) == FLAG_PINNED | FLAG_YIELD


def test_a_pool_whose_last_pcpu_leaves_has_no_master_and_dumps_minus_one() -> None:
    host = Host(pcpus=4, seed=1, dom0_vcpus=1)
    host.toolstack.cpupool_cpu_remove(host.hv.pools[0], 3)
    pool = host.toolstack.cpupool_create("p", "credit", "3")
    sched = pool.sched
    assert isinstance(sched, CreditScheduler) and sched.master is host.hv.pcpus[3]
    host.toolstack.cpupool_cpu_remove(pool, 3)
    assert sched.master is None and sched.credit == 0
    assert not sched.master_ticker.active  # kill_timer with the last pCPU
    assert "\tmaster             = -1\n" in sched.dump()


def _tickle_host(pcpus: int, busy: tuple[int, ...]) -> tuple[Host, CreditScheduler, VCPU]:
    """A hog pinned on each pCPU of *busy* (UNDER), the others idle; a paused guest's
    vCPU, not queued, placed on pCPU 0 and ready to be tickled for."""
    host = Host(pcpus=pcpus, seed=1, dom0_vcpus=1)
    for cpu in busy:
        host.create(f"hog{cpu}", workload="cpu", cpus=str(cpu))
    v = host.create("w", workload="cpu", paused=True).vcpus[0]
    host.run(ms=1)
    sched = credit_of(host)
    for cpu in busy:
        host.hv.pcpus[cpu].curr.sched_priv.pri = PRI_TS_UNDER
    assert sched.idlers == set(range(pcpus)) - set(busy)
    v.processor = host.hv.pcpus[0]
    return host, sched, v


def test_tickle_wakes_an_idler_rather_than_preempt_a_lower_priority_unit() -> None:
    # __runq_tickle: with idlers around, a BOOST unit on a pCPU running an UNDER one
    # tickles the idler (pCPU 1), and neither preempts nor kicks away the running unit.
    host, sched, v = _tickle_host(2, (0,))
    v.sched_priv.pri = PRI_TS_BOOST
    sched._runq_tickle(v.sched_priv)
    assert sched.idlers == set()
    assert not host.hv.pcpus[0].curr.pause_flags & PauseFlag.MIGRATING


def test_tickle_leaves_a_busy_pcpu_alone_for_a_unit_of_equal_priority() -> None:
    # No idler and new.pri not above cur.pri: nobody is tickled.
    host, sched, v = _tickle_host(1, (0,))
    tickles = sched.stats["tickle"]
    sched._runq_tickle(v.sched_priv)
    assert sched.stats["tickle"] == tickles


def test_tickle_for_a_pinned_unit_preempts_its_busy_pcpu_only_if_it_is_better() -> None:
    # Pinned to busy pCPU 0 (PINNED, but its pCPU is not idle): no idler suits it; an
    # UNDER one waits, a BOOST one tickles pCPU 0 (the idler on pCPU 1 is not for it,
    # and the running unit is not flagged to move: new's hard affinity has no idler).
    host, sched, v = _tickle_host(2, (0,))
    v.hard_affinity = frozenset({0})
    sched.adjust_affinity(v)
    svc: CschedUnit = v.sched_priv
    assert svc.flags & FLAG_PINNED
    tickles = sched.stats["tickle"]
    sched._runq_tickle(svc)
    assert sched.stats["tickle"] == tickles and sched.idlers == {1}
    svc.pri = PRI_TS_BOOST
    sched._runq_tickle(svc)
    assert sched.stats["tickle"] == tickles + 1 and sched.idlers == {1}
    assert not host.hv.pcpus[0].curr.pause_flags & PauseFlag.MIGRATING


def test_tickle_goes_on_to_the_hard_affinity_when_no_soft_idler_is_found() -> None:
    # Soft affinity {1} (busy), pCPU 2 idle: the soft step finds nobody and "continue"s;
    # the hard step tickles pCPU 2 rather than preempting pCPU 0.
    host, sched, v = _tickle_host(3, (0, 1))
    v.soft_affinity = frozenset({1})
    sched.adjust_affinity(v)
    svc: CschedUnit = v.sched_priv
    svc.pri = PRI_TS_BOOST
    tickles = sched.stats["tickle"]
    sched._runq_tickle(svc)
    assert sched.idlers == set() and sched.stats["tickle"] == tickles + 1


def test_a_unit_running_alone_on_its_pcpu_is_kept_there() -> None:
    # _csched_cpu_pick for a running unit (csched_unit_acct at the tick): its own pCPU,
    # with nothing else queued, counts as idle, so it stays there though pCPU 1 is idle.
    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    hog = host.create("hog", workload="cpu", cpus="0").vcpus[0]
    host.run(ms=1)
    sched = credit_of(host)
    hog.hard_affinity = frozenset({0, 1})
    sched.adjust_affinity(hog)
    assert hog.is_running and not host.hv.pcpus[0].sched_priv.runq.vcpus
    assert sched.idlers == {1}
    assert sched._cpu_pick(hog) is host.hv.pcpus[0]


def test_pick_cpu_moves_to_the_idle_core_from_its_idle_bias_and_remembers_it() -> None:
    # Three cores of two threads; thread 0 runs a hog.  From thread 1 a unit moves to
    # the next core (2, 3), to its first thread after that core's idle_bias (3): 2, and
    # not to core {4, 5}, which is no idler.  Only pick_cpu (commit) sets idle_bias to
    # it; it also marks the unit MIGRATING, keeping its other flags.
    host = Host(pcpus=6, topology="1x3x2", seed=1, dom0_vcpus=1)
    host.create("hog", workload="cpu", cpus="0")
    v = host.create("v", workload="cpu", paused=True).vcpus[0]
    host.run(ms=1)
    sched = credit_of(host)
    v.processor = host.hv.pcpus[1]
    spc2 = host.hv.pcpus[2].sched_priv
    spc2.idle_bias = 3
    assert sched._cpu_pick(v) is host.hv.pcpus[2] and spc2.idle_bias == 3
    svc: CschedUnit = v.sched_priv
    svc.flags = FLAG_YIELD
    assert sched.pick_cpu(v) is host.hv.pcpus[2] and spc2.idle_bias == 2
    assert svc.flags == FLAG_YIELD | FLAG_MIGRATING


def test_affinity_caches_a_useful_soft_mask_and_the_pinned_flag() -> None:
    # csched_aff_cntl: soft affinity is useful only if it meets hard and does not cover
    # it; PINNED means one pCPU in hard; other flags are left alone; the count of units
    # with soft affinity follows each change once.
    host = Host(pcpus=2, seed=1, dom0_vcpus=1)
    v = host.create("v", workload="cpu", paused=True).vcpus[0]
    sched = credit_of(host)
    svc: CschedUnit = v.sched_priv
    n = sched.nr_soft_affine
    svc.flags |= FLAG_YIELD
    v.soft_affinity = frozenset({1})
    for _ in range(2):
        sched.adjust_affinity(v)
        assert svc.soft == frozenset({1}) and sched.nr_soft_affine == n + 1
    v.soft_affinity = frozenset({0, 1})  # covers hard: not useful
    sched.adjust_affinity(v)
    assert svc.soft is None and sched.nr_soft_affine == n
    v.hard_affinity, v.soft_affinity = frozenset({0}), frozenset({1})  # disjoint
    sched.adjust_affinity(v)
    assert svc.soft is None and svc.flags & (FLAG_PINNED | FLAG_YIELD) == FLAG_PINNED | FLAG_YIELD
    v.hard_affinity = frozenset({0, 1})
    sched.adjust_affinity(v)
    assert svc.flags & (FLAG_PINNED | FLAG_YIELD) == FLAG_YIELD


def test_waking_units_boosts_each_once_and_a_queued_one_is_left_alone() -> None:
    # csched_unit_wake: an UNDER unit not woken by a migration is BOOSTed (counted) and
    # queued; waking one already queued changes nothing.
    host = Host(pcpus=1, seed=1, dom0_vcpus=1)
    d = host.create("d", workload="cpu", vcpus=2, paused=True)
    sched = credit_of(host)
    boosts = sched.stats["boost"]
    for v in d.vcpus:
        v.sched_priv.flags &= ~FLAG_MIGRATING
        sched.wake(v)
        assert v.sched_priv.pri == PRI_TS_BOOST and v.sched_priv.on_runq
    assert sched.stats["boost"] == boosts + 2
    queue = list(host.hv.pcpus[0].sched_priv.runq.vcpus)
    sched.wake(d.vcpus[0])
    assert host.hv.pcpus[0].sched_priv.runq.vcpus == queue


def test_pick_falls_back_to_an_idler_of_the_hard_affinity_when_the_soft_one_has_none() -> None:
    # _csched_cpu_pick's balance steps: the soft step (pCPU 1, busy with a unit queued)
    # finds no idler, so the hard step picks one (pCPU 2 after 1, wrapping; 0 and 2 idle).
    host = Host(pcpus=3, seed=1, dom0_vcpus=1)
    for i in range(2):
        host.create(f"hog{i}", workload="cpu", cpus="1")
    v = host.create("v", workload="cpu", cpus_soft="1", paused=True).vcpus[0]
    host.run(ms=1)
    sched = credit_of(host)
    assert sched.idlers == {0, 2} and host.hv.pcpus[1].sched_priv.runq.vcpus
    v.processor = host.hv.pcpus[1]
    assert sched._cpu_pick(v) is host.hv.pcpus[2]
