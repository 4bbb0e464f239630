"""Fidelity of the null scheduler against null.c: static assignment, a waitqueue.

Dom0 gets a single vCPU in these tests: under null every Domain-0 vCPU would
own a pCPU (as it does on a real null-scheduled host, which is why such hosts
boot with a small ``dom0_max_vcpus``).
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
from xensim.hypervisor.vcpu import PauseFlag, RunState


def _host(pcpus: int = 3, **kw) -> Host:  # type: ignore[no-untyped-def]
    return Host(pcpus=pcpus, scheduler="null", dom0_vcpus=1, seed=1, **kw)


def test_one_vcpu_per_pcpu_and_no_vcpu_ever_moves() -> None:
    host = _host(4)
    host.create("hog", workload="cpu", vcpus=2)
    host.create("duty", workload="duty:busy_ms=1,idle_ms=2")
    host.create("extra", workload="cpu")  # 5th vCPU on 4 pCPUs: waits
    seen: dict[str, int] = {}

    def check() -> str | None:
        running = [p.curr for p in host.hv.pcpus if not p.curr.is_idle]
        if len(running) != len({id(v) for v in running}):
            return f"a vCPU runs twice: {running}"
        for p in host.hv.pcpus:
            v = p.curr
            if v.is_idle:
                continue
            if seen.setdefault(repr(v), p.cpu_id) != p.cpu_id:
                return f"{v} moved from cpu{seen[repr(v)]} to {p}"
            if p.sched_priv.unit is not v:
                return f"{p} runs {v} but is assigned {p.sched_priv.unit}"
        return None

    problems = sampler(host, 50_000, check)
    host.run(ms=500)
    assert problems == []
    # hog v0, hog v1 and duty ran (dom0's vCPU too, serving xenstore); extra never ran.
    assert set(seen) - {"d0v0"} == {"d1v0", "d1v1", "d2v0"}
    assert host.domain("extra").vcpus[0].runstate_snapshot(host.now)[RunState.RUNNING] == 0
    assert all(v.nr_migrations == 0 for d in host.all_domains for v in d.vcpus)


def test_a_blocked_vcpu_leaves_its_pcpu_idle() -> None:
    host = _host(2)
    host.create("duty", workload="duty:busy_ms=1,idle_ms=3,phase=0")
    host.create("hog", workload="cpu")  # waits: dom0 and duty own both pCPUs
    host.run(ms=1_000)
    s = shares(host)
    assert s["duty"] == pytest.approx(0.25, abs=0.01)
    assert s["hog"] == 0
    m = host.metrics()
    duty_cpu = host.domain("duty").vcpus[0].processor.cpu_id
    # Its pCPU idles the other 75%: the waiting hog may not use it.
    assert m["pcpus"][duty_cpu]["idle_ns"] == pytest.approx(0.75 * m["duration_ns"], rel=0.02)


def test_the_waiting_vcpu_gets_the_pcpu_its_predecessor_frees() -> None:
    host = _host(2)
    first = host.create("first", workload="cpu")
    host.create("second", workload="cpu")
    host.run(ms=100)
    freed = first.vcpus[0].processor.cpu_id
    assert [n.vcpu for n in host.hv.pools[0].sched.waitq] == host.domain("second").vcpus
    rc, _, err = host.xl("destroy first")
    assert rc == 0, err
    host.reset_metrics()
    host.run(ms=100)
    v = host.domain("second").vcpus[0]
    assert v.processor.cpu_id == freed and v.is_running
    assert shares(host)["second"] == pytest.approx(1.0, abs=0.001)
    assert host.hv.pools[0].sched.waitq == []


def test_soft_affinity_chooses_the_free_pcpu() -> None:
    host = _host(4)
    d = host.create("soft", workload="cpu", cpus_soft="3")
    host.run(ms=10)
    assert d.vcpus[0].processor.cpu_id == 3 and d.vcpus[0].is_running


def test_hard_affinity_keeps_a_vcpu_waiting_for_its_own_pcpu() -> None:
    host = _host(3)
    host.create("a", workload="cpu", cpus="1")
    b = host.create("b", workload="cpu", cpus="1")  # cpu2 is free, but not allowed
    host.run(ms=50)
    assert b.vcpus[0].sched_priv.in_waitq and 2 in host.hv.pools[0].sched.cpus_free
    host.xl("destroy a")
    host.run(ms=10)
    assert b.vcpus[0].processor.cpu_id == 1 and b.vcpus[0].is_running


def test_vcpu_pin_moves_an_assigned_vcpu_to_a_free_pcpu() -> None:
    host = _host(3)
    d = host.create("a", workload="cpu")
    host.run(ms=10)
    old = d.vcpus[0].processor.cpu_id
    target = ({1, 2} - {old}).pop()
    host.hv.core.set_affinity(d.vcpus[0], frozenset({target}), None)
    host.run(ms=10)
    sched = host.hv.pools[0].sched
    assert d.vcpus[0].processor.cpu_id == target and d.vcpus[0].is_running
    assert old in sched.cpus_free and host.hv.pcpus[target].sched_priv.unit is d.vcpus[0]


def test_runstate_times_add_up() -> None:
    host = _host(2)
    host.create("hog", workload="cpu")
    host.create("duty", workload="duty:busy_ms=1,idle_ms=2")
    host.create("waiter", workload="cpu")
    host.run(ms=300)
    host.xl("destroy hog")
    host.run(ms=300)
    assert_runstates_add_up(host)


def test_dump_shows_assignments_and_the_waitqueue() -> None:
    host = _host(2)
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    text = host.hv.pools[0].sched.dump()
    assert "unit=d1v0" in text and "Waitqueue: d2v0" in text


def test_with_no_free_pcpu_the_fallback_is_random_from_the_seeded_rng() -> None:
    def picks(seed: int) -> list[int]:
        host = Host(pcpus=4, scheduler="null", seed=seed, dom0_vcpus=4)
        sched = host.hv.pools[0].sched
        d = host.create("late", workload="cpu", vcpus=1)
        v = d.vcpus[0]
        return [sched._pick_res(v) for _ in range(40)]

    first = picks(1)
    assert first == picks(1)  # the same seed draws the same pCPUs
    assert len(set(first)) > 1  # cpumask_any(): not always the same pCPU
    assert first != picks(2)


def _down(host: Host, v) -> None:  # type: ignore[no-untyped-def]
    from xensim.hypervisor.vcpu_op import VCPUOP, hc_vcpu_op

    assert hc_vcpu_op(host.hv, v, VCPUOP.down, v.vcpu_id) == 0


def _up(host: Host, v) -> None:  # type: ignore[no-untyped-def]
    from xensim.hypervisor.vcpu_op import VCPUOP, hc_vcpu_op

    assert hc_vcpu_op(host.hv, v, VCPUOP.up, v.vcpu_id) == 0


def test_an_offlined_vcpu_hands_its_pcpu_to_the_waiting_one_and_waits_when_back() -> None:
    host = _host(2, trace=True)
    a = host.create("a", workload="cpu").vcpus[0]
    b = host.create("b", workload="cpu").vcpus[0]
    sched = host.hv.pools[0].sched
    host.run(ms=10)
    cpu = a.processor.cpu_id
    assert sched._npc(cpu).unit is a and [n.vcpu for n in sched.waitq] == [b]
    _down(host, a)  # null_unit_sleep of an offlined unit: unit_deassign hands over
    host.run(ms=10)
    assert sched._npc(cpu).unit is b and b.is_running and sched.waitq == []
    _up(host, a)  # back online with no pCPU free: it waits
    host.run(ms=10)
    assert [n.vcpu for n in sched.waitq] == [a] and not a.is_running
    _down(host, a)  # offlined while waiting: it leaves the waitqueue
    assert sched.waitq == []
    _up(host, a)
    _down(host, b)
    host.run(ms=10)
    assert sched._npc(cpu).unit is a and a.is_running and b not in (
        n.vcpu for n in sched.waitq)
    events = [(r.event, r.domid) for r in host.hv.trace.records
              if r.event.startswith("null_")]
    assert ("null_deassign", 1) in events and ("null_assign", 2) in events
    assert ("null_waitq", 2) in events


def test_a_vcpu_back_online_takes_its_free_pcpu_at_once() -> None:
    host = _host(2)
    a = host.create("a", workload="cpu").vcpus[0]
    sched = host.hv.pools[0].sched
    host.run(ms=5)
    cpu = a.processor.cpu_id
    _down(host, a)
    host.run(ms=5)
    assert sched._npc(cpu).unit is None and cpu in sched.cpus_free
    assert host.hv.pcpus[cpu].curr.is_idle
    _up(host, a)
    assert sched._npc(cpu).unit is a and cpu not in sched.cpus_free
    host.run(ms=5)
    assert a.is_running


def test_a_pcpu_leaving_the_pool_requeues_its_vcpu_and_one_joining_adopts_it() -> None:
    host = _host(3)
    a = host.create("a", workload="cpu").vcpus[0]
    host.run(ms=5)
    pool0 = host.hv.pools[0]
    sched = pool0.sched
    cpu = a.processor.cpu_id
    other = ({1, 2} - {cpu}).pop()
    host.toolstack.cpupool_cpu_remove(pool0, other)  # a free pCPU goes: nothing moves
    assert sched._npc(cpu).unit is a
    host.toolstack.cpupool_cpu_remove(pool0, cpu)
    host.run(ms=5)
    assert [n.vcpu for n in sched.waitq] == [a] and not a.is_running
    assert sched.cpus_free == set()
    host.toolstack.cpupool_cpu_add(pool0, cpu)  # null_schedule adopts the waiting vCPU
    host.run(ms=5)
    assert sched._npc(cpu).unit is a and a.is_running and sched.waitq == []
    host.toolstack.cpupool_cpu_add(pool0, other)
    host.run(ms=1)
    assert sched.cpus_free == {other}
    host.toolstack.cpupool_cpu_remove(pool0, other)  # a pCPU leaving is forgotten
    assert host.hv.pcpus[other].sched_priv is None and other not in sched.cpus_free


@pytest.mark.parametrize("domains, text", [
    # every pCPU assigned, one waiter
    ([{"vcpus": 1}, {"vcpus": 2}],
     "\tcpus_free = \nCPU[00], unit=d0v0\nCPU[01], unit=d1v0\nCPU[02], unit=d2v0\n"
     "Waitqueue: d2v1\n"),
    # pinned to pCPU 1: a free pCPU without a unit, two waiters comma-separated
    ([{"vcpus": 3, "cpus": "1"}],
     "\tcpus_free = 2\nCPU[00], unit=d0v0\nCPU[01], unit=d1v0\nCPU[02]\n"
     "Waitqueue: d1v1, d1v2\n"),
])
def test_dump_lists_free_pcpus_units_and_the_waitqueue_in_order(
        domains: list[dict], text: str) -> None:
    host = _host(3)
    for i, keys in enumerate(domains):
        host.create(f"d{i}", workload="cpu", **keys)
    host.run(ms=1)
    assert host.hv.pools[0].sched.dump() == "Scheduler: null Scheduler (null)\n" + text


def test_a_freed_pcpu_goes_to_a_waiter_with_soft_affinity_for_it_first() -> None:
    host = _host(3)
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    c = host.create("c", workload="cpu").vcpus[0]  # waits first, no soft affinity
    d = host.create("d", workload="cpu", cpus_soft="2").vcpus[0]  # waits second
    sched = host.hv.pools[0].sched
    host.run(ms=5)
    assert [n.vcpu for n in sched.waitq] == [c, d]
    assert host.domain("b").vcpus[0].processor.cpu_id == 2
    host.xl("destroy b")  # pCPU 2 is in d's soft affinity: d gets it, not c
    host.run(ms=5)
    assert sched._npc(2).unit is d and d.is_running and [n.vcpu for n in sched.waitq] == [c]
    host.xl("destroy a")  # pCPU 1: only c is left, by hard affinity
    host.run(ms=5)
    assert sched._npc(1).unit is c and c.is_running and sched.waitq == []


def test_pick_res_keeps_a_vcpu_on_its_own_free_pcpu_else_the_first_free() -> None:
    host = _host(4)
    sched = host.hv.pools[0].sched
    d = host.create("d", workload="cpu", paused=True)
    v = d.vcpus[0]
    sched.remove(v)  # take it off its pCPU to test placement alone
    v.processor = host.hv.pcpus[3]
    assert sched.cpus_free == {1, 2, 3}
    assert sched._pick_res(v) == 3  # its current pCPU is free: stay
    sched.cpus_free.discard(3)
    sched._npc(3).unit = host.dom0.vcpus[0]
    assert sched._pick_res(v) == 1  # else the first free one
    v.hard_affinity = frozenset({0, 3})
    assert sched._pick_res(v) in (0, 3)  # none free in its affinity: any of them


def test_trace_records_assignments_with_time_and_pcpu() -> None:
    host = _host(2, trace=True)
    host.run(ms=3)
    host.create("a", workload="cpu")
    recs = [r for r in host.hv.trace.records if r.event == "null_assign" and r.domid == 1]
    assert [(r.t, r.cpu, r.vcpu) for r in recs] == [(3_000_000, 1, 0)]


def test_dump_shows_every_free_pcpu() -> None:
    host = _host(3)
    assert host.hv.pools[0].sched.dump().splitlines()[1] == "\tcpus_free = 1,2"


def test_a_freed_pcpu_outside_the_soft_waiters_affinity_goes_to_the_first_waiter() -> None:
    host = _host(3)
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    c = host.create("c", workload="cpu").vcpus[0]  # first in the waitqueue
    d = host.create("d", workload="cpu", cpus_soft="2").vcpus[0]
    sched = host.hv.pools[0].sched
    host.run(ms=5)
    host.xl("destroy a")  # pCPU 1 is not in d's soft affinity: the soft step finds no one
    host.run(ms=5)
    assert sched._npc(1).unit is c and [n.vcpu for n in sched.waitq] == [d]


def test_back_online_with_its_pcpu_taken_it_waits_and_a_free_pcpu_adopts_it() -> None:
    host = _host(4)
    a = host.create("a", workload="cpu").vcpus[0]
    host.create("b", workload="cpu")
    c = host.create("c", workload="cpu").vcpus[0]
    d = host.create("d", workload="cpu").vcpus[0]
    sched = host.hv.pools[0].sched
    host.run(ms=5)
    _down(host, a)  # pCPU 1 goes to d
    _down(host, c)  # pCPU 3 is free
    host.run(ms=5)
    assert sched._npc(1).unit is d and sched.cpus_free == {3}
    _up(host, a)  # its pCPU (1) is d's: a waits, and the free pCPU 3 is poked
    assert [n.vcpu for n in sched.waitq] == [a]
    host.run(ms=1)
    assert sched._npc(3).unit is a and a.is_running and sched.waitq == []


@pytest.mark.parametrize("affinity, poked", [
    ({"cpus_soft": "3"}, {1, 2, 3}),  # pCPU 2 is in its hard affinity, not its soft one
    ({"cpus": "3"}, {3}),  # pCPU 2 is outside its hard affinity
])
def test_back_online_on_a_free_pcpu_outside_its_affinity_it_waits_first(
        affinity: dict, poked: set[int]) -> None:
    host = _host(4)
    a = host.create("a", workload="cpu", **affinity).vcpus[0]
    sched = host.hv.pools[0].sched
    host.run(ms=5)
    assert a.processor.cpu_id == 3
    _down(host, a)
    host.run(ms=1)  # pCPU 3 is idle and free
    a.processor = host.hv.pcpus[2]  # say it last ran on pCPU 2 (free)
    _up(host, a)
    # null_unit_wake assigns it there at once only if pCPU 2 is in its hard affinity
    # and (if it has one) its soft affinity; else it waits and pokes the free pCPUs of
    # its hard affinity, the first of which adopts it
    assert sched._npc(2).unit is None and [n.vcpu for n in sched.waitq] == [a]
    assert _poked(host) == poked
    host.run(ms=1)
    assert a.is_running and sched.waitq == [] and sched._npc(min(poked)).unit is a


def test_destroying_a_waiting_domain_takes_it_off_the_waitqueue() -> None:
    host = _host(2)
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    sched = host.hv.pools[0].sched
    assert len(sched.waitq) == 1
    host.xl("destroy b")
    assert sched.waitq == []
    host.xl("destroy a")
    host.run(ms=5)
    assert sched.cpus_free == {1}


def test_null_has_no_global_parameters() -> None:
    with pytest.raises(Exception, match="null scheduler has no global parameters"):
        Host(pcpus=1, scheduler="null", sched={"tslice_ms": 5})


def test_a_domain_moved_into_a_null_pool_is_assigned_there() -> None:
    host = Host(pcpus=4, seed=1, dom0_vcpus=1)
    d = host.create("d", workload="cpu")
    host.run(ms=5)
    pool0 = host.hv.pools[0]
    for c in (2, 3):
        host.toolstack.cpupool_cpu_remove(pool0, c)
    pool = host.toolstack.cpupool_create("np", "null", "2-3")
    host.toolstack.cpupool_migrate(d, pool)
    host.run(ms=5)
    v = d.vcpus[0]
    assert pool.sched._npc(v.processor.cpu_id).unit is v and v.is_running


def test_trace_records_deassignments_and_waits_with_their_pcpu() -> None:
    host = _host(2, trace=True)
    host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    host.xl("destroy a")
    recs = [(r.event, r.cpu, r.domid) for r in host.hv.trace.records
            if r.event in ("null_deassign", "null_waitq")]
    assert recs == [("null_waitq", -1, 2), ("null_deassign", 1, 1)]
    assert_trace_well_formed(host)


def _poked(host: Host) -> set[int]:
    """The pCPUs with SCHEDULE_SOFTIRQ raised and not yet handled."""
    return {p.cpu_id for p in host.hv.pcpus if p.softirq_pending}


def test_an_offline_vcpu_moved_by_vcpu_pin_is_neither_assigned_nor_waiting() -> None:
    host = _host(3)
    a = host.create("a", workload="cpu").vcpus[0]
    sched = host.hv.pools[0].sched
    host.run(ms=5)
    assert a.processor.cpu_id == 1
    _down(host, a)
    host.run(ms=1)
    host.hv.core.set_affinity(a, frozenset({2}), None)
    # null_unit_migrate of an offline unit: it takes no pCPU (pCPU 2 is free) and does
    # not wait; it is only re-homed there
    assert a.processor.cpu_id == 2 and sched._npc(2).unit is None
    assert sched.waitq == [] and sched.cpus_free == {1, 2}
    _up(host, a)  # back online on its free pCPU: assigned at once
    host.run(ms=1)
    assert sched._npc(2).unit is a and a.is_running


def test_a_freed_pcpu_outside_the_only_waiters_soft_affinity_is_still_its_by_hard() -> None:
    host = _host(3)
    a = host.create("a", workload="cpu")
    host.create("b", workload="cpu")
    d = host.create("d", workload="cpu", cpus_soft="2").vcpus[0]  # waits, soft on pCPU 2
    sched = host.hv.pools[0].sched
    host.run(ms=5)
    assert a.vcpus[0].processor.cpu_id == 1 and [n.vcpu for n in sched.waitq] == [d]
    host.xl("destroy a")  # pCPU 1: not in d's soft affinity, but in its hard one
    host.run(ms=5)
    assert sched._npc(1).unit is d and d.is_running and sched.waitq == []


def test_a_vcpu_back_online_takes_its_free_pcpu_inside_its_soft_affinity_at_once() -> None:
    host = _host(4)
    a = host.create("a", workload="cpu", cpus_soft="3").vcpus[0]
    sched = host.hv.pools[0].sched
    host.run(ms=5)
    assert a.processor.cpu_id == 3
    _down(host, a)
    host.run(ms=1)
    _up(host, a)  # pCPUs 1, 2 and 3 are free; its own (3) is in its soft affinity
    assert sched._npc(3).unit is a and sched.waitq == [] and _poked(host) == {3}


def test_a_vcpu_back_online_with_its_pcpu_taken_pokes_only_the_free_pcpus_it_may_use() -> None:
    host = _host(4)
    a = host.create("a", workload="cpu", cpus="1-2").vcpus[0]
    b = host.create("b", workload="cpu", cpus="1-2").vcpus[0]
    sched = host.hv.pools[0].sched
    host.run(ms=5)
    assert (a.processor.cpu_id, b.processor.cpu_id) == (1, 2) and sched.cpus_free == {3}
    _down(host, a)
    _down(host, b)
    host.run(ms=1)
    c = host.create("c", workload="cpu", cpus="1").vcpus[0]  # takes pCPU 1
    host.run(ms=1)
    assert sched._npc(1).unit is c and sched.cpus_free == {2, 3}
    _up(host, a)  # its pCPU (1) is c's: it waits; of the free 2 and 3 only 2 is its
    assert [n.vcpu for n in sched.waitq] == [a] and _poked(host) == {2}


def test_sleep_pokes_the_pcpu_only_of_a_running_vcpu() -> None:
    host = _host(2)
    a = host.create("a", workload="cpu").vcpus[0]
    w = host.create("w", workload="cpu").vcpus[0]  # waits, never runs
    host.run(ms=5)
    core = host.hv.core
    core.vcpu_pause(w)  # null_unit_sleep of a unit not running: nothing to poke
    assert _poked(host) == set()
    core.vcpu_unpause(w)
    host.run(ms=1)
    host.xl("destroy w")
    a.pause_flags |= PauseFlag.DOWN  # offlined with no one waiting: its pCPU goes
    core.vcpu_sleep(a)  # free, and null_unit_sleep pokes it to switch to idle
    assert host.hv.pools[0].sched._npc(1).unit is None and _poked(host) == {1}


def test_waking_a_running_vcpu_does_nothing() -> None:
    host = _host(2)
    a = host.create("a", workload="cpu").vcpus[0]
    host.run(ms=5)
    sched = host.hv.pools[0].sched
    assert a.is_running and _poked(host) == set()
    sched.wake(a)  # null_unit_wake: a unit already running on its pCPU is left alone
    assert _poked(host) == set() and sched._npc(1).unit is a and sched.waitq == []
